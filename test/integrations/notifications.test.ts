import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { BerthClient } from '../../src/client/index.js';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { startServer, type TestServer } from '../support/server.js';
import { ensureTestAppImage } from '../support/images.js';
import { uniqueSuffix, waitFor } from '../support/wait.js';
import { viaRouter } from '../support/load.js';
import { rejects } from '../builds/helpers.js';

const field = (e: { details?: unknown }) => (e.details as { field?: string } | undefined)?.field;

interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** Deploys, a failed deploy and a crash, told to Slack-format and signed webhook receivers on 127.0.0.1. */
describe('notifications', () => {
  let s: TestServer;
  let dev: BerthClient;
  let receiver: Server;
  let base: string;
  let image: string;
  const got: Received[] = [];
  const hanging: ServerResponse[] = [];
  let flaky = 0;
  const slug = `ntf-${uniqueSuffix()}`;
  const targets: Record<string, { id: string; secret?: string }> = {};
  const at = (path: string) => got.filter((r) => r.path === path);
  const deliveries = async (name: string) => (await dev.call('listNotificationDeliveries', { params: { id: slug, target: targets[name].id }, query: {} })).items;

  before(async () => {
    image = await ensureTestAppImage(new DockerRuntime({}));
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        got.push({ path: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString() });
        const path = req.url!.split('?')[0];
        if (path === '/hang') return void hanging.push(res); // never answers
        if (path === '/flaky' && ++flaky <= 2) return void res.writeHead(503).end();
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;
    // The webhook receivers listen on loopback: allowed for this test only.
    s = await startServer({ egressAllow: '127.0.0.1/32', env: { BERTH_NOTIFY_RETRY_BASE_MS: '200', BERTH_NOTIFY_TIMEOUT_S: '2', BERTH_NOTIFY_MAX_ATTEMPTS: '4' } });
    dev = await s.newUser('dev');
    await dev.call('createApp', { body: { name: slug, health_check: { path: '/health', timeout_s: 5, grace_s: 0 } } });
  });
  after(async () => {
    await s?.destroy();
    for (const r of hanging) r.destroy();
    receiver?.closeAllConnections();
    receiver?.close();
  });

  test('bad targets are a 400 naming the field', async () => {
    for (const [body, f] of [
      [{ kind: 'webhook', url: 'ftp://127.0.0.1/x' }, 'url'],
      [{ kind: 'webhook', url: 'not a url' }, 'url'],
      [{ kind: 'webhook', url: `${s.url}/api/v1/apps` }, 'url'],
      [{ kind: 'slack', url: `http://localhost:${new URL(s.url).port}/x` }, 'url'],
      [{ kind: 'webhook', url: 'https://user:pw@example.com/' }, 'url'],
      [{ kind: 'email', url: 'https://example.com/' }, 'kind'],
    ] as const) {
      const e = await rejects(dev.call('addNotification', { params: { id: slug }, body: body as never }), 400);
      assert.equal(field(e), f, JSON.stringify(body));
    }
    assert.deepEqual((await dev.call('listNotifications', { params: { id: slug } })).items, []);
  });

  test('targets are added; the URL is shown only as a hint and the webhook secret once', async () => {
    for (const [name, kind] of [['slack', 'slack'], ['hook', 'webhook'], ['flaky', 'webhook'], ['hang', 'webhook']] as const) {
      const t = await dev.call('addNotification', { params: { id: slug }, body: { kind, url: `${base}/${name}?token=secret-part` } });
      assert.equal(t.url, `${base}/…`);
      assert.equal(!!t.secret, kind === 'webhook');
      targets[name] = { id: t.id, secret: t.secret };
    }
    const listed = await dev.call('listNotifications', { params: { id: slug } });
    assert.equal(listed.items.length, 4);
    assert.ok(!JSON.stringify(listed).includes('secret-part'));
    assert.ok(listed.items.every((t) => t.secret === undefined));
  });

  test('a deploy is told in both formats, signed; a hanging receiver does not hold it up; a failing one is retried', async () => {
    const r = await dev.call('deployApp', { params: { id: slug }, body: { image_id: image } });
    await waitFor('v1 live', async () => (await dev.call('getRelease', { params: { id: slug, version: r.version } })).status === 'live', { timeoutMs: 90_000, intervalMs: 200 });
    // The deploy went live while the hanging receiver held its first delivery open.
    assert.ok(hanging.length >= 1 || (await deliveries('hang')).some((d) => d.status === 'pending'), JSON.stringify(await deliveries('hang')));

    const slack = await waitFor('slack messages', () => {
      const texts = at('/slack?token=secret-part').map((m) => JSON.parse(m.body) as { text: string; blocks: unknown[] });
      return texts.some((t) => / deploy live: /.test(t.text)) && texts;
    });
    assert.ok(slack.some((m) => new RegExp(`^:rocket: ${slug}: deploy started: v1 is rolling out`).test(m.text)), JSON.stringify(slack));
    assert.ok(slack.every((m) => Array.isArray(m.blocks) && m.blocks.length === 1));

    const hooks = await waitFor('webhook messages', () => {
      const h = at('/hook?token=secret-part');
      return h.some((m) => JSON.parse(m.body).event.kind === 'release.live') && h;
    });
    for (const m of hooks) {
      const want = `sha256=${createHmac('sha256', targets.hook.secret!).update(m.body).digest('hex')}`;
      assert.equal(m.headers['x-berth-signature'], want);
      assert.equal(m.headers['content-type'], 'application/json');
      const body = JSON.parse(m.body);
      assert.equal(body.app.slug, slug);
      assert.equal(m.headers['x-berth-event'], body.event.kind);
    }

    const flakyLog = await waitFor('the flaky receiver to get the deploy', async () => {
      const d = await deliveries('flaky');
      return d.length >= 2 && d.every((x) => x.status === 'delivered') && d;
    }, { timeoutMs: 30_000 });
    assert.equal(Math.max(...flakyLog.map((d) => d.attempts)), 3, JSON.stringify(flakyLog));

    const hang = await waitFor('the hanging receiver to be given up on', async () => {
      const d = await deliveries('hang');
      return d.length >= 2 && d.every((x) => x.status === 'failed') && d;
    }, { timeoutMs: 60_000 });
    assert.ok(hang.every((d) => d.attempts === 4 && d.last_error === 'no answer in 2000 ms'), JSON.stringify(hang));
  });

  test('a failed deploy and a crash are told', async () => {
    await dev.call('setEnv', { params: { id: slug }, body: { set: { HEALTH_FAIL: '1' } } });
    await waitFor('deploy failed message', () => at('/slack?token=secret-part').some((m) => / deploy failed: v2 failed/.test(JSON.parse(m.body).text)), { timeoutMs: 90_000, intervalMs: 200 });
    await viaRouter(s.routerPort, `${slug}.localhost`, '/crash').catch(() => null);
    await waitFor('crash message', () => at('/hook?token=secret-part').some((m) => JSON.parse(m.body).event.kind === 'container.crashed'), { timeoutMs: 60_000, intervalMs: 200 });
  });
});
