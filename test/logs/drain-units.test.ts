import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { DrainSender } from '../../src/controllers/drains/sender.js';
import type { Transport } from '../../src/controllers/drains/transports.js';
import { drainHint, ndjson, octetFrame, parseDrainUrl, syslogMessage, timeKey, type DrainLine } from '../../src/domain/drains.js';
import { systemClock } from '../../src/controllers/deps.js';
import { apiWorld, type ApiWorld } from '../support/inject.js';
import { drainsOf } from '../../src/store/drains.js';
import { appBySlug } from '../../src/store/apps.js';

const line = (n: number, extra: Partial<DrainLine> = {}): DrainLine => ({ time: '2026-12-06T01:02:03.123456789Z', app: 'shop', process_type: 'web', replica: 2, stream: 'stdout', line: `line ${n}`, ...extra });

test('RFC 5424 messages: priority by stream, app as host and app-name, type.replica as procid, escaped structured data; octet-counted in bytes', () => {
  assert.equal(
    syslogMessage(line(1)),
    '<14>1 2026-12-06T01:02:03.123456Z shop shop web.2 stdout [berth@32473 app="shop" type="web" replica="2" stream="stdout"] line 1',
  );
  const err = syslogMessage(line(2, { stream: 'stderr', process_type: 'a"b]', line: 'é' }));
  assert.match(err, /^<11>1 .* shop shop a"b]\.2 stderr \[berth@32473 app="shop" type="a\\"b\\]" replica="2" stream="stderr"\] é$/);
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
  assert.deepEqual(ndjson([line(1)]).split('\n'), ['{"time":"2026-12-06T01:02:03.123456789Z","app":"shop","process_type":"web","replica":2,"stream":"stdout","line":"line 1"}', '']);
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
  const s = new DrainSender(transport, { bufferLines: 5, batchLines: 2, batchWaitMs: 0, retryBaseMs: 5, retryMaxMs: 20, clock: systemClock }, { last_success_at: null, last_error: null, last_error_at: null, sent: 0, dropped: 0 });
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
