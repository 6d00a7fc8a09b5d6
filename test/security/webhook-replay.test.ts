import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BerthClient } from '../../src/client/index.js';
import { startServer, type TestServer } from '../support/server.js';
import { payload, signed } from '../integrations/fixtures.js';
import { send } from './helpers.js';

const A = '1'.repeat(40);
const B = '2'.repeat(40);

/**
 * The attacker captured a signed push delivery (a proxy log, a leaked request dump) and sends it
 * again later under a fresh delivery id, hoping to build and deploy the old commit it names. The
 * signature covers the body, not the delivery-id header, so the body is what must act only once.
 */
describe('webhook replay', () => {
  let s: TestServer;
  let dev: BerthClient;
  let hook: { url: string; secret: string };

  before(async () => {
    // The source is a git remote on this machine: allowed past the egress rule for this test only.
    s = await startServer({ egressAllow: '127.0.0.1/32' });
    dev = await s.newUser('dev');
    await dev.call('createApp', { body: { name: 'repo', auto_deploy: false } });
    await dev.call('createApp', { body: { name: 'site', auto_deploy: false } });
    // The source is this server's own (empty) git remote: the builds fail, without leaving the machine.
    await dev.call('setAppSource', { params: { id: 'site' }, body: { repo_url: `${s.url}/git/repo.git`, branch: 'main' } });
    hook = await dev.call('getWebhook', { params: { id: 'site' } });
  });
  after(async () => {
    await s?.destroy();
  });

  const builds = async () => (await dev.call('listBuilds', { params: { id: 'site' } })).total;
  const deliver = (headers: Record<string, string>, body: Buffer) => send(s.url, 'POST', new URL(hook.url).pathname, { headers, body });

  for (const [provider, event, file] of [
    ['github', 'push', 'github-push'],
    ['bitbucket', 'repo:push', 'bitbucket-push'],
  ] as const) {
    test(`${provider}: a captured push sent again under a new delivery id builds nothing, even after a newer push`, async () => {
      const old = payload(file, 'main', A);
      const first = await deliver(signed(provider, event, old, hook.secret, `${provider}-1`), old);
      const firstBuild = first.json.build_id;
      const count = await builds();
      if (provider === 'github') {
        assert.equal(first.status, 202, first.text);
        assert.equal(first.json.built, true);
      }
      // A newer commit is pushed and built.
      const next = payload(file, 'main', B);
      const second = await deliver(signed(provider, event, next, hook.secret, `${provider}-2`), next);
      assert.equal(second.status, 202, second.text);
      assert.equal(await builds(), count + 1);
      // The replay: the old signed body, a fresh id.
      for (const id of [`${provider}-replay-1`, `${provider}-replay-2`, `${provider}-1`]) {
        const r = await deliver(signed(provider, event, old, hook.secret, id), old);
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.built, false, r.text);
        assert.match(r.json.reason, /already received/);
        assert.equal(r.json.build_id, firstBuild);
      }
      assert.equal(await builds(), count + 1, 'no build of the old commit');
    });
  }
});
