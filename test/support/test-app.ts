/**
 * Source of the test app baked into the test image. Plain JavaScript run by the host's node binary.
 *
 * GET /            200 {hostname, uid, gid, status (of /proc/self/status), env, path}
 * GET /health      200, or 500 after /fail-health or when HEALTH_FAIL=1
 * GET /fail-health makes /health answer 500 from now on
 * GET /crash       answers, then exits with code 3
 * GET /slow?ms=N   answers after N ms (to watch graceful shutdown)
 * GET /file?path=P[&write=TEXT] writes TEXT to P first (when given), then answers {content} (404 when missing)
 * CRASH_ON_START=1 exits with code 2 before listening.
 * SIGTERM stops accepting, finishes in-flight requests, then exits 0.
 */
export const TEST_APP_SOURCE = String.raw`
const http = require('node:http');
const os = require('node:os');
const fs = require('node:fs');

const port = Number(process.env.PORT || 8080);
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
    case '/slow':
      return setTimeout(() => json(200, { hostname: os.hostname(), waited: Number(url.searchParams.get('ms')) }), Number(url.searchParams.get('ms') || 1000));
    default:
      return json(200, { hostname: os.hostname(), uid: process.getuid(), gid: process.getgid(), status: procStatus(), env: process.env, path: url.pathname });
  }
});

server.listen(port, '0.0.0.0', () => console.log('listening on ' + port));

process.on('SIGTERM', () => {
  console.log('SIGTERM: draining ' + inFlight + ' request(s)');
  // Keep-alive connections become idle as their last response ends; close them as they do.
  const reaper = setInterval(() => server.closeIdleConnections(), 50);
  server.close(() => {
    clearInterval(reaper);
    console.log('drained, exiting');
    process.exit(0);
  });
});
`;
