import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plan } from '../../src/router/haproxy/plan.js';
import { initialState } from '../../src/router/haproxy/state.js';
import type { Route } from '../../src/router/types.js';

const route = (app: string, upstreams: string[]): Required<Route> => ({ app, hosts: [`${app}.localhost`], upstreams, healthPath: '/health', drainTimeoutMs: 600_000 }) as Required<Route>;

test("a deleted app's backend, still draining, is never handed to a new app of the same name; it returns to the pool once drained", () => {
  const s = initialState(4, 2);
  plan(s, [route('shop', ['10.0.0.5:8080'])], []);
  const old = s.backends.find((b) => b.app === 'shop')!;
  // The app is deleted: its backend keeps its name while its replica drains (a WebSocket may live on).
  plan(s, [], []);
  assert.deepEqual([old.retired, old.hosts, old.slots[0]?.state], [true, [], 'drain']);
  // Another tenant creates "shop" meanwhile: a backend of its own, not the retired one.
  plan(s, [route('shop', ['10.0.1.9:8080'])], []);
  const live = s.backends.filter((b) => b.app === 'shop' && !b.retired);
  assert.equal(live.length, 1);
  assert.notEqual(live[0]!.name, old.name);
  assert.deepEqual(live[0]!.slots.filter(Boolean).map((x) => x!.upstream), ['10.0.1.9:8080']);
  assert.deepEqual([old.retired, old.hosts, old.slots[0]?.upstream], [true, [], '10.0.0.5:8080'], 'the old one still drains, serving only what it had');
  // Drained: the old backend is free again.
  old.slots[0] = null;
  plan(s, [route('shop', ['10.0.1.9:8080'])], []);
  assert.deepEqual([old.app, old.retired], [null, false]);
});
