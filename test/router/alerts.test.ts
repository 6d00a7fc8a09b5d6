import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { ApiError, type BerthClient } from '../../src/client/index.js';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { run } from '../../src/lib/exec.js';
import { CLI_MAIN, startServer, type TestServer } from '../support/server.js';
import { ensureTestAppImage } from '../support/images.js';
import { startLoad } from '../support/load.js';
import { uniqueSuffix, waitFor } from '../support/wait.js';
import { settled } from '../support/rollout.js';

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
  event: { kind: string; message: string; data: { rule?: string; value?: number } | null };
}

/**
 * A real app behind the real HAProxy answers 500s under load: the metrics controller counts them,
 * the alert evaluator fires the 5xx rule, and a webhook receiver on loopback gets the signed
 * message; the app then answers 200s and the resolved message arrives. Every rule's window, hold
 * and clear time are scaled down (BERTH_ALERT_TIME_SCALE=0.05: a 15 s window, 3 s hold, 6 s clear).
 * On PostgreSQL, where several control planes share the alert states (the unit tests run on SQLite).
 */
describe('alerts through the real router', () => {
  let s: TestServer;
  let dev: BerthClient;
  let receiver: Server;
  let secret: string;
  let home: string;
  const got: Received[] = [];
  const slug = `alrt-${uniqueSuffix()}`;
  const host = `${slug}.localhost`;
  const told = (kind: string) => got.filter((r) => r.event.kind === kind && r.event.data?.rule === 'http_5xx_rate');
  const berth = (args: string[]) =>
    run(process.execPath, [CLI_MAIN, ...args], { timeoutMs: 30_000, env: { ...process.env, BERTH_CONFIG: join(home, 'config.json'), BERTH_URL: s.url, BERTH_TOKEN: dev.opts.token } });

  before(async () => {
    const image = await ensureTestAppImage(new DockerRuntime({}));
    home = mkdtempSync(join(tmpdir(), 'berth-alerts-'));
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        got.push({ headers: req.headers, body, event: (JSON.parse(body) as { event: Received['event'] }).event });
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;
    // The receiver listens on loopback: allowed for this test only.
    s = await startServer({ engine: 'postgres', egressAllow: '127.0.0.1/32', env: { BERTH_ALERT_TIME_SCALE: '0.05', BERTH_NOTIFY_RETRY_BASE_MS: '200' } });
    dev = await s.newUser('oncall');
    await dev.call('createApp', { body: { name: slug, health_check: { path: '/health', timeout_s: 30, grace_s: 0 } } });
    const rel = await dev.call('deployApp', { params: { id: slug }, body: { image_id: image } });
    assert.equal((await settled(dev, slug, rel.version)).status, 'live');
    secret = (await dev.call('addNotification', { params: { id: slug }, body: { kind: 'webhook', url: `${base}/alerts` } })).secret!;
  });
  after(async () => {
    await s?.destroy();
    receiver?.closeAllConnections();
    receiver?.close();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  test('every app has the default rules without set-up; bad changes are refused naming the field', async () => {
    const rules = (await dev.call('listAlerts', { params: { id: slug } })).items;
    assert.deepEqual(rules.map((r) => r.rule), ['http_5xx_rate', 'response_time_p95', 'restarts', 'memory', 'volume_full', 'certificate_expiry', 'backup_failed']);
    const r5 = rules.find((r) => r.rule === 'http_5xx_rate')!;
    assert.deepEqual([r5.enabled, r5.threshold, r5.unit, r5.window_s, r5.for_s, r5.clear_s], [true, 5, '%', 15, 3, 6]);
    assert.ok(rules.every((r) => r.status !== 'firing'));
    const refused = async (body: unknown, field: string) =>
      assert.rejects(dev.call('updateAlerts', { params: { id: slug }, body: body as never }), (e) => e instanceof ApiError && e.status === 400 && JSON.stringify(e.details).includes(field), JSON.stringify(body));
    await refused({ rules: { memory: { threshold: 150 } } }, 'rules.memory.threshold');
    await refused({ rules: { http_5xx_rate: { threshold: -1 } } }, 'rules.http_5xx_rate.threshold');
    await refused({ rules: { disk_on_fire: { enabled: false } } }, 'disk_on_fire');
    await refused({ rules: { memory: { enabled: 'no' } } }, 'enabled');
    // The CLI: a change, then the table back in JSON.
    const set = await berth(['alerts:set', slug, 'memory', '--threshold', '95.1']);
    assert.equal(set.code, 0, set.stderr);
    const list = await berth(['alerts', slug, '--json']);
    assert.equal(list.code, 0, list.stderr);
    const mem = (JSON.parse(list.stdout) as { rule: string; threshold: number; default_threshold: number }[]).find((r) => r.rule === 'memory')!;
    assert.deepEqual([mem.threshold, mem.default_threshold], [95.1, 90]);
    const bad = await berth(['alerts:set', slug, 'memory', '--threshold', '150']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /rules\.memory\.threshold/);
  });

  test('500s under load fire the 5xx alert to the webhook; 200s resolve it; each told once', async (t) => {
    const started = Date.now();
    const errors = startLoad({ port: s.routerPort, host, path: '/file?path=/', concurrency: 2, maxMs: 120_000 });
    let firedAt: number;
    try {
      await waitFor('the firing message at the webhook', async () => told('alert.firing').length > 0, { timeoutMs: 90_000, intervalMs: 250 });
      firedAt = Date.now();
    } finally {
      const r = await errors.stop();
      t.diagnostic(`500s sent: ${r.sent} (answered >= 500: ${r.failed})`);
    }
    const firing = told('alert.firing')[0];
    assert.match(firing.event.message, new RegExp(`^${slug}: 5xx responses: [0-9.]+ % \\(over 5 %\\)$`));
    assert.ok((firing.event.data?.value ?? 0) > 50, 'nearly every response was a 500');
    assert.equal(firing.headers['x-berth-event'], 'alert.firing');
    assert.equal(firing.headers['x-berth-signature'], `sha256=${createHmac('sha256', secret).update(firing.body).digest('hex')}`);
    // The API says the same: firing since, in the app's list and in the project's.
    const r5 = (await dev.call('listAlerts', { params: { id: slug } })).items.find((r) => r.rule === 'http_5xx_rate')!;
    assert.equal(r5.status, 'firing');
    assert.ok(r5.since && Date.parse(r5.since) >= started - 1000);
    const app = await dev.call('getApp', { params: { id: slug } });
    const project = (await dev.call('listProjectAlerts', { params: { id: app.project.id } })).items;
    assert.deepEqual(project.map((a) => [a.app.slug, a.rule]), [[slug, 'http_5xx_rate']]);

    const fine = startLoad({ port: s.routerPort, host, path: '/', concurrency: 2, maxMs: 120_000 });
    try {
      await waitFor('the resolved message at the webhook', async () => told('alert.resolved').length > 0, { timeoutMs: 90_000, intervalMs: 250 });
    } finally {
      const r = await fine.stop();
      t.diagnostic(`200s sent: ${r.sent}, failed: ${r.failed}`);
    }
    t.diagnostic(`fired ${((firedAt! - started) / 1000).toFixed(1)} s after the 500s began; resolved ${((Date.now() - firedAt!) / 1000).toFixed(1)} s after the 200s began`);
    assert.match(told('alert.resolved')[0].event.message, /5xx responses resolved/);
    assert.equal(told('alert.firing').length, 1, 'fired once');
    assert.equal(told('alert.resolved').length, 1, 'resolved once');
    assert.equal((await dev.call('listAlerts', { params: { id: slug } })).items.find((r) => r.rule === 'http_5xx_rate')!.status, 'ok');
    assert.deepEqual((await dev.call('listProjectAlerts', { params: { id: app.project.id } })).items, []);
    const kinds = (await dev.call('listEvents', { query: { app: slug } })).items.map((e) => e.kind);
    assert.ok(kinds.includes('alert.firing') && kinds.includes('alert.resolved'), `events: ${kinds.join(', ')}`);
  });
});
