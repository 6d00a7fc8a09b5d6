import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildConfig, isPrivateHost, routesFromConfig } from '../../src/router/caddy-config.js';

const opts = { admin: '127.0.0.1:2999', storageDir: '/tmp/x', httpPort: 8080, httpsPort: 8443 };

test('private names get the internal CA, public ones ACME with the contact email', () => {
  for (const h of ['localhost', 'a.localhost', 'x.internal', 'box.local', '10.0.0.1', 'intranet']) assert.ok(isPrivateHost(h), h);
  for (const h of ['example.com', 'app.example.org']) assert.ok(!isPrivateHost(h), h);
  const cfg = buildConfig(
    [{ app: 'a', hosts: ['a.localhost', 'shop.example.com'], upstreams: ['10.0.0.2:80'] }],
    { ...opts, acmeEmail: 'ops@example.com' },
  ) as { apps: { tls: { automation: { policies: unknown[] } } } };
  assert.deepEqual(cfg.apps.tls.automation.policies, [
    { subjects: ['a.localhost'], issuers: [{ module: 'internal' }] },
    { subjects: ['shop.example.com'], issuers: [{ module: 'acme', email: 'ops@example.com' }] },
  ]);
});

test('routes read back equal the routes written, in a canonical order', () => {
  const routes = [
    { app: 'b', hosts: ['B.localhost'], upstreams: ['10.0.0.3:80', '10.0.0.2:80', '10.0.0.2:80'] },
    { app: 'a', hosts: ['a.localhost'], upstreams: [] },
  ];
  assert.deepEqual(routesFromConfig(buildConfig(routes, opts)), [
    { app: 'a', hosts: ['a.localhost'], upstreams: [] },
    { app: 'b', hosts: ['b.localhost'], upstreams: ['10.0.0.2:80', '10.0.0.3:80'] },
  ]);
  assert.deepEqual(routesFromConfig({}), []);
});

test('the 503 page escapes the app name (HTML and Caddy placeholders)', () => {
  const cfg = buildConfig([{ app: '<b>{env.HOME}', hosts: ['x.localhost'], upstreams: [] }], opts);
  const bodies: string[] = [];
  JSON.stringify(cfg, (_k, v: unknown) => {
    const h = v as { handler?: string; status_code?: number; body?: string };
    if (h && h.handler === 'static_response' && h.status_code === 503 && h.body) bodies.push(h.body);
    return v;
  });
  assert.equal(bodies.length, 2, 'one 503 page per server (HTTP and HTTPS)');
  for (const body of bodies) {
    assert.ok(!body.includes('<b>{env.HOME}'));
    assert.ok(body.includes('&#60;b&#62;&#123;env.HOME&#125;'));
  }
});
