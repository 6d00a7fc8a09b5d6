import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BerthClient } from '../../src/client/index.js';
import { startServer, type TestServer } from '../support/server.js';
import { uniqueSuffix } from '../support/wait.js';
import { payload, signed } from './fixtures.js';

/** The integration tables and the delivery dedup on PostgreSQL (the end-to-end proof runs on SQLite). */
describe('vendors, sources and webhook deliveries on PostgreSQL', () => {
  let s: TestServer;
  let dev: BerthClient;
  const slug = `pgh-${uniqueSuffix()}`;
  before(async () => {
    s = await startServer({ engine: 'postgres', egressAllow: '127.0.0.1/32' });
    dev = await s.newUser('dev');
    await dev.call('createApp', { body: { name: slug, auto_deploy: false } });
  });
  after(async () => s?.destroy());

  test('a delivery sent twice queues one build; deleting the account keeps the source without it', async () => {
    const v = await dev.call('createVendor', { body: { vendor: 'gitlab', host: '127.0.0.1:9', token: 'glpat-secret' } });
    await dev.call('setAppSource', { params: { id: slug }, body: { repo_url: 'http://127.0.0.1:9/team/app.git', branch: 'main', vendor: v.id } });
    const hook = await dev.call('getWebhook', { params: { id: slug } });
    const body = payload('gitlab-push', 'main', 'b'.repeat(40));
    const h = signed('gitlab', 'Push Hook', body, hook.secret, 'uuid-1');
    const send = () => fetch(hook.url, { method: 'POST', headers: h, body: new Uint8Array(body) }).then(async (r) => ({ status: r.status, json: (await r.json()) as any }));
    const [a, b] = await Promise.all([send(), send()]);
    assert.deepEqual([a.status, b.status].sort(), [200, 202]);
    assert.equal((await dev.call('listBuilds', { params: { id: slug } })).total, 1);
    await dev.call('deleteVendor', { params: { id: v.id } });
    assert.equal((await dev.call('getAppSource', { params: { id: slug } })).vendor, null);
    assert.deepEqual((await dev.call('listVendors', {})).items, []);
  });
});
