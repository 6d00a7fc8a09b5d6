import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import pino from 'pino';
import { DrainSender } from '../../src/controllers/drains/sender.js';
import { HttpsTransport, SyslogTransport, type Transport } from '../../src/controllers/drains/transports.js';
import { DrainController } from '../../src/controllers/drains/index.js';
import { MAX_DRAINS_PER_APP, drainHint, ndjson, octetFrame, parseDrainUrl, syslogMessage, timeKey, type DrainLine } from '../../src/domain/drains.js';
import { systemClock, type ControllerDeps } from '../../src/controllers/deps.js';
import { parseEgressAllow } from '../../src/lib/egress.js';
import { ensureCa, issueLeaf } from '../../src/tls/ca.js';
import { apiWorld, type ApiWorld } from '../support/inject.js';
import { drainById, drainsOf, insertDrain } from '../../src/store/drains.js';
import { appBySlug } from '../../src/store/apps.js';
import { insertContainer } from '../../src/store/containers.js';
import { waitFor } from '../support/wait.js';
import { BuildLogHub } from '../../src/domain/build-logs.js';

const line = (n: number, extra: Partial<DrainLine> = {}): DrainLine => ({ time: '2026-12-06T01:02:03.123456789Z', app: 'shop', process_type: 'web', replica: 2, stream: 'stdout', line: `line ${n}`, ...extra });

test('RFC 5424 messages: priority by stream, app as host and app-name, type.replica as procid, escaped structured data; octet-counted in bytes', () => {
  assert.equal(
    syslogMessage(line(1)),
    '<14>1 2026-12-06T01:02:03.123456Z shop shop web.2 stdout [berth@32473 app="shop" type="web" replica="2" stream="stdout" source="app"] line 1',
  );
  // A router line and a build line say so, in PROCID and in the structured data.
  assert.match(syslogMessage(line(3, { process_type: 'router', replica: 1, source: 'router' })), / shop shop router\.1 stdout \[berth@32473 app="shop" type="router" replica="1" stream="stdout" source="router"\] line 3$/);
  assert.match(syslogMessage(line(4, { process_type: 'build', replica: 12, source: 'build' })), / shop shop build\.12 stdout \[berth@32473 .* source="build"\] line 4$/);
  const err = syslogMessage(line(2, { stream: 'stderr', process_type: 'a"b]', line: 'é' }));
  assert.match(err, /^<11>1 .* shop shop a"b]\.2 stderr \[berth@32473 app="shop" type="a\\"b\\]" replica="2" stream="stderr" source="app"\] é$/);
  const framed = octetFrame('é x').toString('utf8');
  assert.equal(framed, '4 é x');
});

test("engine timestamps (nanoseconds, trailing zeros trimmed) sort as time once keyed", () => {
  const engine = ['2026-12-06T01:02:05Z', '2026-12-06T01:02:05.09Z', '2026-12-06T01:02:05.1Z', '2026-12-06T01:02:05.123Z', '2026-12-06T01:02:05.12345678Z', '2026-12-06T01:02:05.123456789Z'];
  assert.deepEqual([...engine].reverse().map(timeKey).sort(), engine.map(timeKey));
  assert.ok(timeKey('2026-12-06T01:02:05.123Z') < timeKey('2026-12-06T01:02:05.1231Z'));
  assert.equal(timeKey(new Date(Date.UTC(2026, 11, 6, 1, 2, 5, 120)).toISOString()), '2026-12-06T01:02:05.120000000Z');
});

test('drain URLs: two kinds; refusals say why; the hint hides a path, a query and a login', () => {
  assert.deepEqual(parseDrainUrl('syslog+tls://logs.example.com:6514'), { kind: 'syslog', host: 'logs.example.com', port: 6514 });
  assert.deepEqual(parseDrainUrl('https://u:p@in.example.com/x?k=1'), { kind: 'https', host: 'in.example.com', port: 443 });
  for (const bad of ['http://in.example.com/', 'syslog://h:514', 'syslog+tls://h', 'syslog+tls://h:1/p', 'nonsense']) assert.ok('problem' in parseDrainUrl(bad), bad);
  assert.equal(drainHint('https://u:p@in.example.com/x?k=1'), 'https://in.example.com/…');
  assert.equal(drainHint('https://in.example.com'), 'https://in.example.com');
  assert.equal(drainHint('syslog+tls://logs.example.com:6514'), 'syslog+tls://logs.example.com:6514');
  assert.deepEqual(ndjson([line(1)]).split('\n'), ['{"time":"2026-12-06T01:02:03.123456789Z","app":"shop","process_type":"web","replica":2,"stream":"stdout","line":"line 1","source":"app"}', '']);
  assert.equal(JSON.parse(ndjson([line(2, { process_type: 'build', replica: 7, source: 'build' })])).source, 'build');
});

test('a sender keeps at most its buffer while the receiver fails, drops the oldest and counts them, then delivers the rest in order', async () => {
  let up = false;
  const got: string[] = [];
  let attempts = 0;
  const transport: Transport = {
    async send(lines) {
      attempts++;
      if (!up) throw new Error('receiver away');
      got.push(...lines.map((l) => l.line));
    },
    close() {},
  };
  const s = new DrainSender(transport, { bufferLines: 5, bufferBytes: 1 << 20, batchLines: 2, batchWaitMs: 0, retryBaseMs: 5, retryMaxMs: 20, clock: systemClock }, { last_success_at: null, last_error: null, last_error_at: null, sent: 0, dropped: 0 });
  s.start();
  for (let i = 1; i <= 8; i++) s.push(line(i));
  while (attempts < 3) await new Promise((r) => setImmediate(r));
  assert.equal(s.status.last_error, 'receiver away');
  assert.equal(s.status.dropped, 3);
  assert.ok(s.buffered <= 5);
  up = true;
  while (got.length < 5) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(got, ['line 4', 'line 5', 'line 6', 'line 7', 'line 8']);
  assert.equal(s.status.sent, 5);
  assert.ok(s.status.last_success_at! >= s.status.last_error_at!);
  s.stop();
});

let w: ApiWorld | undefined;
after(() => w?.close());

test('a drain URL is stored sealed and shown as a hint; the row says what the runner needs', async () => {
  w = await apiWorld();
  const dev = await w.newUser('dora');
  assert.equal((await w.request('POST', '/api/v1/apps', { token: dev, body: { name: 'drained' } })).status, 201);
  const url = 'https://ingest:pa55word@logs.example.com/berth?token=tok3n';
  const res = await w.request('POST', '/api/v1/apps/drained/drains', { token: dev, body: { url } });
  assert.equal(res.status, 201, JSON.stringify(res.json));
  assert.equal(res.json.url, 'https://logs.example.com/…');
  assert.deepEqual(res.json.status, { last_success_at: null, last_error: null, last_error_at: null, sent: 0, dropped: 0 });
  const [row] = await drainsOf(w.ctx.db, (await appBySlug(w.ctx.db, 'drained'))!.id);
  assert.equal(row.kind, 'https');
  assert.ok(!/pa55word|tok3n/.test(JSON.stringify(row)), 'nothing of the credential in clear');
  assert.equal(w.ctx.secrets.open(row.url_sealed), url);
  const bad = await w.request('POST', '/api/v1/apps/drained/drains', { token: dev, body: { url: 'syslog+tls://169.254.169.254:6514' } });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.details.field, 'url');
  assert.equal((await w.request('DELETE', `/api/v1/apps/drained/drains/${row.id}`, { token: dev })).status, 200);
  assert.equal((await w.request('DELETE', `/api/v1/apps/drained/drains/${row.id}`, { token: dev })).status, 404);
});

test('an app has at most 10 drains: the 11th is a 409 naming the limit; one removed makes room', async () => {
  w ??= await apiWorld();
  const dev = await w.newUser('dana');
  assert.equal((await w.request('POST', '/api/v1/apps', { token: dev, body: { name: 'many-drains' } })).status, 201);
  const ids: string[] = [];
  for (let i = 0; i < MAX_DRAINS_PER_APP; i++) {
    const r = await w.request('POST', '/api/v1/apps/many-drains/drains', { token: dev, body: { url: `https://logs.example.com/d${i}` } });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    ids.push(r.json.id);
  }
  const over = await w.request('POST', '/api/v1/apps/many-drains/drains', { token: dev, body: { url: 'https://logs.example.com/d10' } });
  assert.equal(over.status, 409);
  assert.equal(over.json.error.code, 'quota_exceeded');
  assert.deepEqual(over.json.error.details, { field: 'url', limit: 10 });
  assert.match(over.json.error.message, /10 log drains/);
  assert.equal((await w.request('DELETE', `/api/v1/apps/many-drains/drains/${ids[0]}`, { token: dev })).status, 200);
  assert.equal((await w.request('POST', '/api/v1/apps/many-drains/drains', { token: dev, body: { url: 'https://logs.example.com/d10' } })).status, 201);
});

test("one drain that cannot start or whose status cannot be written stops neither the other drains nor the following of replicas", async () => {
  w ??= await apiWorld();
  const dev = await w.newUser('dino');
  assert.equal((await w.request('POST', '/api/v1/apps', { token: dev, body: { name: 'shaky' } })).status, 201);
  const app = (await appBySlug(w.ctx.db, 'shaky'))!;
  const db = w.ctx.db;
  const drain = (id: string, sealed: string) => ({ id, app_id: app.id, kind: 'https' as const, url_sealed: sealed, url_hint: 'https://localhost', ca_pem: null, created_at: '2026-12-06T00:00:00.000Z', last_success_at: null, last_error: null, last_error_at: null, sent: 0, dropped: 0 });
  // In the order the runner meets them: a URL that does not open, a drain whose status write fails, a sound one.
  await insertDrain(db, drain('drn_a_unsealed', 'not sealed'));
  await insertDrain(db, drain('drn_b_failing', w.ctx.secrets.seal('https://localhost:9/b')));
  await insertDrain(db, drain('drn_c_sound', w.ctx.secrets.seal('https://localhost:9/c')));
  await sql`CREATE TRIGGER drain_write_fails BEFORE UPDATE ON log_drains WHEN NEW.id = 'drn_b_failing' BEGIN SELECT RAISE(ABORT, 'disk on fire'); END`.execute(db);
  // A replica row without its release: the runner reads only its docker_id, app and labels.
  await sql`PRAGMA foreign_keys = OFF`.execute(db);
  await insertContainer(db, { id: 'ctr_shaky', app_id: app.id, release_id: 'rel_none', replica: 0, gen: 0, name: 'shaky-r0', docker_id: 'dock_shaky', node: 'local', address: null, port: 5000, status: 'running', in_rotation: 0, message: null, process_type: 'web', created_at: new Date().toISOString(), updated_at: new Date().toISOString() });
  await sql`PRAGMA foreign_keys = ON`.execute(db);
  const followed: string[] = [];
  const replicas = {
    async *logs(id: string, o: { signal?: AbortSignal }) {
      followed.push(id);
      yield { time: new Date().toISOString(), stream: 'stdout', line: 'hello' };
      await new Promise((r) => o.signal?.addEventListener('abort', r, { once: true }));
    },
  };
  const warned: string[] = [];
  const log = pino({ level: 'warn' }, { write: (m: string) => void warned.push(JSON.parse(m).msg) });
  const config = { ...w.ctx.config, egressAllow: parseEgressAllow(''), drains: { bufferLines: 100, bufferBytes: 1 << 20, retryBaseMs: 60_000, retryMaxMs: 60_000 } };
  const c = new DrainController({ config, db, secrets: w.ctx.secrets, replicas, clock: systemClock, log, buildLogs: new BuildLogHub() } as unknown as ControllerDeps);
  c.start();
  try {
    // The sound drain's send is refused (localhost is outside the egress rule): its status says so.
    const st = await waitFor("the sound drain's status", async () => (await drainById(db, 'drn_c_sound'))?.last_error || undefined, { timeoutMs: 15_000, intervalMs: 50 });
    assert.equal(st, "localhost:9 is refused by Berth's egress rule");
    assert.deepEqual(followed, ['dock_shaky']);
    assert.equal((await drainById(db, 'drn_b_failing'))?.last_error, null);
    assert.ok(warned.includes('log drain URL does not open; the drain is not started'), warned.join('; '));
    assert.ok(warned.includes('log drain status not written'), warned.join('; '));
  } finally {
    await c.stop();
    await sql`DROP TRIGGER drain_write_fails`.execute(db);
  }
});

const fresh = () => ({ last_success_at: null, last_error: null, last_error_at: null, sent: 0, dropped: 0 });

test("a sender's buffer is bounded in bytes too: big lines push the oldest out, counted as dropped", async () => {
  const away: Transport = { send: () => Promise.reject(new Error('receiver away')), close() {} };
  const s = new DrainSender(away, { bufferLines: 10_000, bufferBytes: 64 * 1024, batchLines: 500, batchWaitMs: 0, retryBaseMs: 60_000, retryMaxMs: 60_000, clock: systemClock }, fresh());
  s.start();
  const big = 'x'.repeat(16 * 1024);
  for (let i = 1; i <= 40; i++) s.push(line(i, { line: `${i} ${big}` }));
  assert.ok(s.bufferedBytes <= 64 * 1024, `${s.bufferedBytes} bytes held`);
  assert.equal(s.buffered, 3);
  assert.equal(s.status.dropped, 37);
  s.stop();
});

test('sleeping on a long-lived signal leaves no abort listener behind once the timer fires', async () => {
  const ac = new AbortController();
  for (let i = 0; i < 20; i++) await systemClock.sleep(1, ac.signal);
  assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
  // An abort still ends a sleep at once.
  const t0 = Date.now();
  const p = systemClock.sleep(60_000, ac.signal);
  assert.equal(getEventListeners(ac.signal, 'abort').length, 1);
  ac.abort();
  await p;
  assert.ok(Date.now() - t0 < 5000);
});

/** A loopback TLS receiver with its own CA, for the transports' deadlines. */
async function tlsFixture() {
  const dir = mkdtempSync(join(tmpdir(), 'berth-drain-units-'));
  const ca = await ensureCa(join(dir, 'ca'));
  const leaf = await issueLeaf(ca, ['localhost', '127.0.0.1']);
  rmSync(dir, { recursive: true, force: true });
  return { ca: ca.certPem, cert: leaf.certPem, key: leaf.keyPem };
}
const listening = (srv: { listen(port: number, host: string, cb: () => void): unknown; address(): unknown }) =>
  new Promise<number>((r) => srv.listen(0, '127.0.0.1', () => r((srv.address() as { port: number }).port)));

test('a syslog receiver that accepts TLS but stops reading fails the send by its deadline, in words', async () => {
  const t = await tlsFixture();
  const sockets: TLSSocket[] = [];
  // Takes the handshake, then reads nothing: the sender's bytes pile up in the kernel's buffers.
  const srv = createTlsServer({ cert: t.cert, key: t.key }, (sock) => {
    sockets.push(sock);
    sock.pause();
  });
  const port = await listening(srv);
  try {
    const tr = new SyslogTransport({ url: `syslog+tls://localhost:${port}`, ca: t.ca, egress: parseEgressAllow('localhost'), timeoutMs: 500 });
    const lines = Array.from({ length: 500 }, (_, i) => line(i, { line: `${i} ${'y'.repeat(16 * 1024)}` }));
    let err: Error | undefined;
    // A few batches fill the socket buffers; one of them must then give up, not wait for ever.
    for (let i = 0; i < 20 && !err; i++) await tr.send(lines).catch((e: Error) => (err = e));
    assert.equal(err?.message, `localhost:${port} did not take the lines within 0.5 s`);
    tr.close();
  } finally {
    for (const s of sockets) s.destroy();
    srv.close();
  }
});

test('an HTTPS receiver that trickles its answer fails the send by its deadline, in words', async () => {
  const t = await tlsFixture();
  const timers: NodeJS.Timeout[] = [];
  // One byte every 50 ms: never idle long enough for the socket's timeout.
  const srv = createHttpsServer({ cert: t.cert, key: t.key }, (req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain' });
    timers.push(setInterval(() => res.write('.'), 50));
  });
  const port = await listening(srv);
  try {
    const tr = new HttpsTransport({ url: `https://localhost:${port}/in`, ca: t.ca, egress: parseEgressAllow('localhost'), timeoutMs: 500 });
    await assert.rejects(tr.send([line(1)]), { message: `localhost:${port} did not take the lines within 0.5 s` });
  } finally {
    for (const x of timers) clearInterval(x);
    srv.closeAllConnections();
    srv.close();
  }
});
