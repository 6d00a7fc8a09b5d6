import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { deliveryId, interpret, providerOf, verifyDelivery } from '../../src/domain/webhooks.js';
import { payload, signed } from './fixtures.js';

const SECRET = 's3cret-for-tests';
const SHA = '1481a2de7b2a7d02428ad93446ab166be7793fbb';

/** Signature checks and payload reading for each provider's documented formats (no server). */
describe('webhook deliveries', () => {
  const cases = [
    ['github', 'push', 'github-push'],
    ['gitlab', 'Push Hook', 'gitlab-push'],
    ['bitbucket', 'repo:push', 'bitbucket-push'],
  ] as const;

  for (const [provider, event, file] of cases) {
    test(`${provider}: a push signed with the secret is a push of that branch and commit`, () => {
      const body = payload(file, 'main', SHA);
      const h = signed(provider, event, body, SECRET, 'd-1');
      assert.equal(providerOf(h), provider);
      assert.equal(verifyDelivery(provider, h, body, SECRET), null);
      assert.equal(deliveryId(provider, h), 'd-1');
      const what = interpret(provider, h, JSON.parse(body.toString()));
      assert.equal(what.kind, 'push');
      assert.ok(what.kind === 'push');
      assert.equal(what.branch, 'main');
      assert.equal(what.commit, SHA);
      assert.ok(what.message.length > 0 && !what.message.includes('\n'));
    });

    test(`${provider}: another secret, a changed body or no signature is refused`, () => {
      const body = payload(file, 'main', SHA);
      const other = signed(provider, event, body, 'another-secret', 'd-2');
      assert.match(verifyDelivery(provider, other, body, SECRET)!, /does not match/);
      const h = signed(provider, event, body, SECRET, 'd-3');
      if (provider !== 'gitlab') assert.match(verifyDelivery(provider, h, Buffer.concat([body, Buffer.from(' ')]), SECRET)!, /does not match/);
      const bare: Record<string, string> = { ...h };
      delete bare['x-hub-signature-256'];
      delete bare['x-hub-signature'];
      delete bare['x-gitlab-token'];
      assert.match(verifyDelivery(provider, bare, body, SECRET)!, /missing/);
    });
  }

  test('pings are recognised; other events and deleted branches are ignored with a reason', () => {
    assert.deepEqual(interpret('github', { 'x-github-event': 'ping' }, JSON.parse(payload('github-ping').toString())), { kind: 'ping' });
    assert.deepEqual(interpret('bitbucket', { 'x-event-key': 'diagnostics:ping' }, {}), { kind: 'ping' });
    const issue = interpret('github', { 'x-github-event': 'issues' }, {});
    assert.deepEqual(issue, { kind: 'ignored', reason: 'event "issues" does not build' });
    const labeled = interpret('github', { 'x-github-event': 'pull_request' }, JSON.parse(payload('github-pull-request', 'f', SHA, { action: 'labeled' }).toString()));
    assert.deepEqual(labeled, { kind: 'ignored', reason: 'request action "labeled" does not change a preview' });
    const deleted = { ...JSON.parse(payload('github-push').toString()), deleted: true, after: '0'.repeat(40) };
    assert.deepEqual(interpret('github', { 'x-github-event': 'push' }, deleted), { kind: 'ignored', reason: 'branch main was deleted' });
    const tag = { ...JSON.parse(payload('gitlab-push').toString()), ref: 'refs/tags/v1' };
    assert.deepEqual(interpret('gitlab', { 'x-gitlab-event': 'Push Hook' }, tag), { kind: 'ignored', reason: 'refs/tags/v1 is not a branch' });
    assert.equal(providerOf({ 'content-type': 'application/json' }), null);
  });

  test('pull and merge requests of each provider open, update and close a preview', () => {
    const cases = [
      ['github', { 'x-github-event': 'pull_request' }, 'github-pull-request', ['opened', 'synchronize', 'reopened'], ['closed'], SHA],
      ['gitlab', { 'x-gitlab-event': 'Merge Request Hook' }, 'gitlab-merge-request', ['open', 'update', 'reopen'], ['close', 'merge'], SHA],
      ['bitbucket', { 'x-event-key': '' }, 'bitbucket-pullrequest', ['created', 'updated'], ['fulfilled', 'rejected'], null],
    ] as const;
    for (const [provider, h, file, opens, closes, commit] of cases) {
      for (const [actions, action] of [[opens, 'build'], [closes, 'close']] as const) {
        for (const a of actions) {
          const headers = provider === 'bitbucket' ? { 'x-event-key': `pullrequest:${a}` } : h;
          const what = interpret(provider, headers, JSON.parse(payload(file, 'feature/x', SHA, { number: 7, action: a }).toString()));
          assert.equal(what.kind, 'request', `${provider} ${a}`);
          assert.ok(what.kind === 'request');
          assert.deepEqual([what.action, what.number, what.branch, what.commit], [action, 7, 'feature/x', commit], `${provider} ${a}`);
        }
      }
    }
  });
});
