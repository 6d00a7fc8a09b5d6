import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiError, type BerthClient } from '../../src/client/index.js';
import { ENGINES, startServer, type TestServer } from '../support/server.js';
import { viaRouter } from '../support/load.js';
import { waitFor } from '../support/wait.js';
import { servedRoutes } from '../faults/helpers.js';

/** The API's 400 for this call, with the field it names. */
async function badRequest(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => assert.fail('accepted hostile input'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ApiError, String(err));
  assert.equal(err.status, 400, err.message);
  return (err.details as { field: string }).field;
}

/**
 * Every value that reaches the router's runtime API comes from users: hostnames, app names, health
 * paths, drain timeouts. Hostile ones are a 400 naming the field, and the router (HAProxy, read back
 * through its runtime API, and its config on disk) stays exactly as it was.
 */
for (const engine of ENGINES) {
  describe(`hostile input never reaches the router (${engine})`, () => {
    let s: TestServer;
    let dev: BerthClient;

    before(async () => {
      s = await startServer({ engine });
      dev = await s.newUser('hostile');
      await dev.call('createApp', { body: { name: 'calm' } });
      await waitFor('the app routed (503: nothing deployed)', async () => (await viaRouter(s.routerPort, 'calm.localhost')).status === 503);
    });
    after(async () => {
      await s?.destroy();
    });

    test('hostnames, names, health paths and drain timeouts with separators, spaces, Unicode or excess are 400 naming the field', async () => {
      const routes = await servedRoutes(s);
      const config = readFileSync(join(s.dataDir, 'haproxy', 'haproxy.cfg'), 'utf8');
      const hosts = readFileSync(join(s.dataDir, 'haproxy', 'hosts.map'), 'utf8');
      const hostile = [
        'evil.example.com\nadd map hosts.map x b0',
        'evil.example.com; del map hosts.map calm.localhost',
        'evil example.com',
        'evil.example.com\r',
        `${'a'.repeat(64)}.example.com`,
        `${'abcdefgh.'.repeat(29)}com`,
        'bücher.example.com',
        'evil..example.com',
        '-evil.example.com',
        'evil.example.com#',
        '',
      ];
      for (const hostname of hostile) {
        assert.equal(await badRequest(dev.call('addDomain', { params: { id: 'calm' }, body: { hostname } })), 'hostname', JSON.stringify(hostname));
      }
      for (const path of ['/health; shutdown sessions server b0/s1', '/a b', '/x\nset map', '/über', '/a#b', "/a'b", '/a\\b', 'health']) {
        const field = await badRequest(dev.call('updateApp', { params: { id: 'calm' }, body: { health_check: { path, timeout_s: 30, grace_s: 0 } } }));
        assert.equal(field, 'health_check.path', JSON.stringify(path));
      }
      for (const name of ['calm;x', 'a b', 'Ünicode', 'x'.repeat(64), 'line\nbreak']) {
        const field = await badRequest(dev.call('createApp', { body: { name } }));
        assert.equal(field, 'name', JSON.stringify(name));
      }
      for (const drain_timeout_s of [-1, 3601, 1.5]) {
        const field = await badRequest(dev.call('updateApp', { params: { id: 'calm' }, body: { drain_timeout_s } }));
        assert.equal(field, 'drain_timeout_s', String(drain_timeout_s));
      }
      // Nothing changed: neither what HAProxy serves nor its files.
      assert.deepEqual(await servedRoutes(s), routes);
      assert.equal(readFileSync(join(s.dataDir, 'haproxy', 'haproxy.cfg'), 'utf8'), config);
      assert.equal(readFileSync(join(s.dataDir, 'haproxy', 'hosts.map'), 'utf8'), hosts);
      assert.equal((await dev.call('listDomains', { params: { id: 'calm' } })).items.length, 0);
      assert.equal((await viaRouter(s.routerPort, 'calm.localhost')).status, 503);
      // A valid change still goes through: the router was not left stuck.
      await dev.call('updateApp', { params: { id: 'calm' }, body: { drain_timeout_s: 5, health_check: { path: '/ready?x=1', timeout_s: 30, grace_s: 0 } } });
      await waitFor('the new settings in the router', async () => {
        const r = (await servedRoutes(s)).find((x) => x.app === 'calm');
        return r?.healthPath === '/ready?x=1' && r.drainTimeoutMs === 5000;
      });
    });
  });
}
