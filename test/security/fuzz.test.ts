import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { BerthClient } from '../../src/client/index.js';
import { ENGINES, startServer, type TestServer } from '../support/server.js';
import { bodyArb, encodeAll, type BodyChoice, pathValueArb, queryArb, type JsonSchema, type PathValue } from './generators.js';
import { checkAnswer, send, type RawAnswer } from './helpers.js';

/**
 * Property: whatever arrives at any route of the OpenAPI document, the answer is a 2xx or a 4xx
 * with the JSON error shape, within a deadline, and the server is still up afterwards.
 * Reproduce a failure with BERTH_FUZZ_SEED=<seed printed in the failure> (and BERTH_FUZZ_RUNS).
 */

interface Op {
  method: string;
  path: string;
  name: string;
  pathParams: string[];
  queryParams: string[];
  body?: JsonSchema;
  /** Hidden routes outside the JSON contract (upload, sockets, git) only have to avoid 5xx and hangs. */
  strict: boolean;
}

async function operations(s: TestServer): Promise<Op[]> {
  const doc = (await send(s.url, 'GET', '/api/openapi.json')).json as {
    paths: Record<string, Record<string, { operationId: string; parameters?: { in: string; name: string }[]; requestBody?: { content: Record<string, { schema: JsonSchema }> } }>>;
  };
  const ops: Op[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const params = op.parameters ?? [];
      ops.push({
        method: method.toUpperCase(),
        path,
        name: op.operationId,
        pathParams: params.filter((p) => p.in === 'path').map((p) => p.name),
        queryParams: params.filter((p) => p.in === 'query').map((p) => p.name),
        body: op.requestBody?.content['application/json']?.schema,
        strict: true,
      });
    }
  }
  const hidden = (method: string, path: string, name: string): Op => ({ method, path, name, pathParams: path.match(/\{(\w+)\}/g)!.map((p) => p.slice(1, -1)), queryParams: ['tail', 'token'], strict: false });
  ops.push(
    hidden('POST', '/api/v1/builds/{id}/upload', 'upload'),
    hidden('GET', '/ws/apps/{id}/logs', 'wsAppLogs'),
    hidden('GET', '/ws/containers/{id}/logs', 'wsContainerLogs'),
    hidden('GET', '/ws/builds/{id}/logs', 'wsBuildLogs'),
    { ...hidden('GET', '/ws/addons/{id}/session', 'wsAddonSession'), queryParams: ['client', 'project', 'tty', 'timeout_s', 'token'] },
    hidden('GET', '/git/{id}', 'gitRemote'),
    hidden('POST', '/git/{id}/git-receive-pack', 'gitReceive'),
  );
  return ops;
}

const REFS = ['project.id', 'project.name', 'app.id', 'app.slug', 'build.id', 'victim.id', 'victim.username', 'version', 'hostname'];

for (const engine of ENGINES) {
  describe(`hostile input to every route on ${engine}`, () => {
    let s: TestServer;
    let member: BerthClient;
    const fx: Record<string, string> = {};

    /** The admin's project, app and pending build the generated requests aim at; recreated when a request deletes them. */
    async function ensureFixtures() {
      const a = s.admin;
      const project = await a.call('getProject', { params: { id: 'fz' } }).catch(() => a.call('createProject', { body: { name: 'fz' } }));
      const app = await a.call('getApp', { params: { id: 'fz-app' } }).catch(() => a.call('createApp', { body: { name: 'fz-app', project: project.id } }));
      await a.call('addMember', { params: { id: project.id }, body: { username: 'member', role: 'developer' } });
      const builds = await a.call('listBuilds', { params: { id: app.id } });
      const build = builds.items.find((b) => b.status === 'pending') ?? (await a.call('createBuild', { params: { id: app.id } }));
      Object.assign(fx, { 'project.id': project.id, 'project.name': project.name, 'app.id': app.id, 'app.slug': app.slug, 'build.id': build.id, version: '1', hostname: 'fz.example.com' });
      const victim = (await a.call('listUsers')).items.find((u) => u.username === 'victim') ?? (await a.call('createUser', { body: { username: 'victim', password: 'victim-password' } }));
      Object.assign(fx, { 'victim.id': victim.id, 'victim.username': victim.username });
    }

    before(async () => {
      s = await startServer({ engine });
      member = await s.newUser('member');
      await ensureFixtures();
    });
    after(async () => {
      await s?.destroy();
    });

    const segment = (v: PathValue) => ('ref' in v ? encodeAll(fx[v.ref]) : 'raw' in v ? v.raw : encodeAll(v.text));

    test('found by the fuzzer: integers past the database columns, float underflow, NUL, bad URL encoding, overlong ids', async () => {
      const build = fx['build.id'];
      const cases: [string, string, string?][] = [
        ['GET', '/api/v1/events?after=99999999999999999999'],
        ['GET', '/api/v1/events?after=9223372036854775808'],
        ['GET', '/api/v1/apps/fz-app/releases/2147483648'],
        ['GET', '/api/v1/apps/fz-app/releases/99999999999999999999'],
        ['GET', `/api/v1/builds/${build}/log?after=2147483648`],
        ['POST', '/api/v1/apps/fz-app/rollback', '{"release":2147483648}'],
        ['PUT', '/api/v1/apps/fz-app', '{"cpu":1e-300}'],
        ['GET', '/api/v1/projects/a%00b'],
        ['GET', '/api/v1/apps/%00'],
        ['PUT', '/api/v1/apps/fz-app', '{"env":{"A":"x\u0000y"}}'],
        ['POST', '/api/v1/apps/fz-app/env', '{"set":{"A":"\u0000"}}'],
        ['POST', '/api/v1/auth/login', '{"username":"admin\u0000","password":"x"}'],
        ['GET', '/api/v1/apps/%ff'],
        ['GET', '/api/v1/apps/%'],
        ['GET', `/api/v1/apps/${'a'.repeat(300)}`],
        ['GET', `/api/v1/builds/${'%F0%9F%98%80'.repeat(60)}`],
      ];
      for (const [method, path, body] of cases) {
        const r = await send(s.url, method, path, { token: s.adminToken, body, headers: body ? { 'content-type': 'application/json' } : {} });
        checkAnswer(r, `${method} ${path} ${body ?? ''}`);
        // A NUL can never be stored or passed on.
        if (/%00|u0000/.test(path + body)) assert.equal(r.status, 400, `${method} ${path} ${body}: ${r.text.slice(0, 200)}`);
        // Numbers past their columns are the same 400 naming the field on both databases.
        const field = /after=\d{10}/.test(path) ? 'after' : /releases\/\d{10}/.test(path) ? 'version' : /"release":\d{10}/.test(body ?? '') ? 'release' : null;
        if (field) {
          assert.equal(r.status, 400, `${method} ${path} ${body}: ${r.text.slice(0, 200)}`);
          assert.match(JSON.stringify(JSON.parse(r.text).error), new RegExp(`"field":"${field}"`), `${method} ${path}: ${r.text}`);
        }
      }
    });

    test('generated bodies, query strings and path values: 2xx or a JSON 4xx, never a 5xx or a hang', { timeout: 300_000 }, async () => {
      const ops = await operations(s);
      assert.ok(ops.filter((o) => o.strict).length >= 40, `the OpenAPI document lists only ${ops.length} operations`);
      const tally = new Map<string, number>();
      const reached = new Set<string>();
      const seed = Number(process.env.BERTH_FUZZ_SEED ?? Date.now() % 2 ** 31);
      const numRuns = Number(process.env.BERTH_FUZZ_RUNS ?? 400);
      console.log(`# fuzz on ${engine}: seed ${seed}, ${numRuns} runs over ${ops.length} operations`);

      const request = fc.constantFrom(...ops).chain((op) =>
        fc.record({
          op: fc.constant(op),
          params: fc.tuple(...op.pathParams.map(() => pathValueArb(REFS))),
          query: queryArb(op.queryParams, REFS),
          body: op.method === 'GET' ? fc.oneof(fc.constant<BodyChoice>({}), bodyArb(op.body, REFS)) : bodyArb(op.body, REFS),
          asMember: fc.boolean(),
        }),
      );

      let mutated = false;
      await fc.assert(
        fc.asyncProperty(request, async ({ op, params, query, body, asMember }) => {
          if (mutated) {
            await ensureFixtures();
            mutated = false;
          }
          let i = 0;
          let path = op.path.replace(/\{\w+\}/g, () => segment(params[i++]));
          if (op.name === 'gitRemote') path += '.git/info/refs';
          if (query.length) path += `?${query.map(([k, v]) => `${encodeAll(k)}=${segment(v)}`).join('&')}`;
          const text = typeof body.text === 'string' ? body.text.replace(/@@([a-z.]+)@@/g, (_, r: string) => fx[r] ?? r) : body.text;
          const headers: Record<string, string> = {};
          if (body.contentType) headers['content-type'] = body.contentType;
          const what = `${op.name}: ${op.method} ${path.slice(0, 300)} body ${String(text ?? '').slice(0, 300)} (${body.contentType ?? 'no type'})`;
          let r: RawAnswer;
          try {
            r = await send(s.url, op.method, path, { token: asMember ? member.opts.token : s.adminToken, body: text, headers, timeoutMs: 15_000 });
          } catch (err) {
            // The server may cut a request it refuses (an upload over the limit) but must never hang.
            if (!op.strict && /ECONNRESET|EPIPE|socket hang up/.test(String(err))) return;
            throw new Error(`${what}: ${(err as Error).message}`, { cause: err });
          }
          tally.set(String(r.status), (tally.get(String(r.status)) ?? 0) + 1);
          if (r.status < 300) reached.add(op.name);
          if (op.method !== 'GET' && r.status < 300) mutated = true;
          if (op.strict) checkAnswer(r, what);
          else assert.ok(r.status < 500, `${what} -> ${r.status} ${r.text.slice(0, 300)}`);
        }),
        { seed, numRuns, endOnFailure: true, verbose: 1 },
      );
      console.log(`# statuses: ${JSON.stringify(Object.fromEntries([...tally].sort()))}; operations answered 2xx: ${reached.size}`);

      const health = await send(s.url, 'GET', '/healthz');
      assert.equal(health.status, 200, 'the server is still up');
      assert.doesNotMatch(s.output(), /"level":(50|60)|uncaught|unhandled/i, 'no error was logged while fuzzing');
    });
  });
}
