import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AllHandlers, SocketHandlers } from '../../src/api/register.js';
import type { SocketMessage } from '../../src/api/contract/sockets.js';
import { startServer } from '../support/server.js';
import type { ApiError } from '../../src/client/index.js';

// The WebSocket routes come from the contract (src/api/contract/sockets.ts), and the client's
// stream() types their messages from it.

test('client.stream follows the contract sockets: events arrive typed, a stranger is refused before the upgrade', async (t) => {
  const s = await startServer();
  t.after(() => s.destroy());
  const app = await s.admin.call('createApp', { body: { name: 'streamed' } });
  const events: SocketMessage<'followEvents'>[] = [];
  const abort = new AbortController();
  let opened!: () => void;
  const open = new Promise<void>((r) => (opened = r));
  const ended = s.admin.stream('followEvents', {}, (e) => {
    events.push(e);
    if (e.kind === 'app.scaled') abort.abort();
  }, { signal: abort.signal, onOpen: () => opened() });
  await open;
  await s.admin.call('scaleApp', { params: { id: app.id }, body: { replicas: 0 } });
  await ended;
  assert.deepEqual(events.map((e) => [e.kind, e.app_id]), [['app.scaled', app.id]]);

  const other = await s.newUser('stranger');
  // Refused before the upgrade, with the 404 of an app that does not exist: no socket is opened.
  const messages: SocketMessage<'followAppLogs'>[] = [];
  await assert.rejects(other.stream('followAppLogs', { params: { id: app.id }, query: { tail: 5 } }, (m) => messages.push(m)), (err: ApiError) => {
    assert.equal(err.status, 404);
    assert.equal(err.code, 'not_found');
    assert.match(err.message, /not found/i);
    return true;
  });
  assert.deepEqual(messages, []);
});

test('socket query parameters are validated against the contract before the upgrade: a bad tail is a 400 naming it', async (t) => {
  const s = await startServer();
  t.after(() => s.destroy());
  const app = await s.admin.call('createApp', { body: { name: 'tailed' } });
  for (const tail of [-1, 10001, 'many']) {
    await assert.rejects(
      s.admin.stream('followAppLogs', { params: { id: app.id }, query: { tail: tail as number } }, () => {}),
      (err: ApiError) => {
        assert.equal(err.status, 400, `tail=${tail}`);
        assert.equal(err.code, 'validation_failed');
        assert.deepEqual(err.details, { location: 'querystring', field: 'tail' });
        assert.match(err.message, /tail/);
        return true;
      },
    );
  }
  await assert.rejects(s.admin.stream('followContainerLogs', { params: { id: 'x' }, query: { lines: 3 } as never }, () => {}), (err: ApiError) => {
    assert.equal(err.status, 400);
    assert.deepEqual(err.details, { location: 'querystring', field: 'lines' });
    return true;
  });
  // A good value (and a browser's ?token=) opens the socket as before.
  const url = new URL(`/ws/apps/${app.id}/logs?tail=10000&token=${s.adminToken}`, s.url.replace(/^http/, 'ws'));
  const { default: WebSocket } = await import('ws');
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.on('open', () => resolve());
    ws.on('unexpected-response', (_q, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.on('error', reject);
  });
  ws.close();
});

test('the handler maps are exhaustive: a route or socket without a handler does not compile', () => {
  type Without<T, K extends keyof T> = Omit<T, K>;
  // @ts-expect-error deployApp has no handler
  const routes: AllHandlers = {} as Without<AllHandlers, 'deployApp'>;
  // @ts-expect-error followBuildLog has no handler
  const socketMap: SocketHandlers = {} as Without<SocketHandlers, 'followBuildLog'>;
  assert.ok(routes && socketMap);
});
