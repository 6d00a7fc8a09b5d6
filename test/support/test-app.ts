/**
 * Source of the test app baked into the test image. Plain JavaScript run by the host's node binary.
 *
 * GET /            200 {hostname, uid, gid, status (of /proc/self/status), env, path}
 * GET /health      200, or 500 after /fail-health or when HEALTH_FAIL=1
 * GET /fail-health makes /health answer 500 from now on
 * GET /crash       answers, then exits with code 3
 * GET /slow?ms=N   answers after N ms (to watch graceful shutdown)
 * GET /sse         an event stream: "data: <hostname>" every 500 ms until the client leaves
 * WebSocket (any path): sends its hostname as a text message every 500 ms; ignores what it gets
 * GET /file?path=P[&write=TEXT] writes TEXT to P first (when given), then answers {content} (404 when missing)
 * CRASH_ON_START=1 exits with code 2 before listening.
 * LISTEN_HOST, LISTEN_PORT: where it listens instead of 0.0.0.0 and $PORT (the classic mistakes).
 * HOG_MB=N fills N MB of memory at start (to be killed at a lower memory limit).
 * SIGTERM stops accepting, finishes in-flight requests, then exits 0.
 */
export const TEST_APP_SOURCE = String.raw`
const http = require('node:http');
const os = require('node:os');
const fs = require('node:fs');
const crypto = require('node:crypto');

const port = Number(process.env.LISTEN_PORT || process.env.PORT || 8080);
if (process.env.HOG_MB) {
  const hog = [];
  for (let i = 0; i < Number(process.env.HOG_MB); i++) hog.push(Buffer.alloc(1048576, 1));
  console.log('holding ' + hog.length + ' MB');
}
if (process.env.CRASH_ON_START === '1') {
  console.error('crashing on start as asked');
  process.exit(2);
}
// CapEff, NoNewPrivs and friends, as the kernel sees this process.
const procStatus = () => Object.fromEntries(
  fs.readFileSync('/proc/self/status', 'utf8').split('\n').filter((l) => l.includes(':')).map((l) => l.split(/:\s*/, 2)),
);
let healthy = process.env.HEALTH_FAIL !== '1';
let inFlight = 0;
// Streams and WebSockets end when the app shuts down, as a real app's would.
const streams = new Set();
const ticker = (write) => setInterval(write, 500);

const server = http.createServer((req, res) => {
  inFlight++;
  res.on('close', () => inFlight--);
  const url = new URL(req.url, 'http://app');
  console.log(req.method + ' ' + url.pathname);
  const json = (status, body) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  switch (url.pathname) {
    case '/health':
      return json(healthy ? 200 : 500, { healthy });
    case '/fail-health':
      healthy = false;
      return json(200, { healthy });
    case '/crash':
      json(200, { crashing: true });
      console.error('crashing as asked');
      return setTimeout(() => process.exit(3), 20);
    case '/sse': {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
      res.write(': open\n\n');
      const t = ticker(() => res.write('data: ' + os.hostname() + '\n\n'));
      const end = () => res.end();
      streams.add(end);
      res.on('close', () => { clearInterval(t); streams.delete(end); });
      return;
    }
    case '/file': {
      const p = url.searchParams.get('path');
      const text = url.searchParams.get('write');
      try {
        if (text !== null) fs.writeFileSync(p, text);
        return json(200, { content: fs.readFileSync(p, 'utf8') });
      } catch (err) {
        return json(err.code === 'ENOENT' ? 404 : 500, { error: String(err.message) });
      }
    }
    case '/headers':
      return json(200, { headers: req.headers });
    case '/slow':
      return setTimeout(() => json(200, { hostname: os.hostname(), waited: Number(url.searchParams.get('ms')) }), Number(url.searchParams.get('ms') || 1000));
    default:
      return json(200, { hostname: os.hostname(), uid: process.getuid(), gid: process.getgid(), status: procStatus(), env: process.env, path: url.pathname });
  }
});

server.on('upgrade', (req, socket) => {
  const accept = crypto.createHash('sha1').update(req.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ' + accept + '\r\n\r\n');
  const text = Buffer.from(os.hostname());
  const t = ticker(() => socket.write(Buffer.concat([Buffer.from([0x81, text.length]), text])));
  const end = () => socket.end(Buffer.from([0x88, 0]));
  streams.add(end);
  socket.on('data', () => undefined);
  socket.on('error', () => undefined);
  socket.on('close', () => { clearInterval(t); streams.delete(end); });
});

const host = process.env.LISTEN_HOST || '0.0.0.0';
server.listen(port, host, () => console.log('listening on ' + (host === '0.0.0.0' ? '' : host + ' port ') + port));

process.on('SIGTERM', () => {
  console.log('SIGTERM: draining ' + inFlight + ' request(s), ending ' + streams.size + ' stream(s)');
  for (const end of [...streams]) end();
  // Keep-alive connections become idle as their last response ends; close them as they do.
  const reaper = setInterval(() => server.closeIdleConnections(), 50);
  server.close(() => {
    clearInterval(reaper);
    console.log('drained, exiting');
    process.exit(0);
  });
});
`;
