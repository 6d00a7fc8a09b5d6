import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { createGzip } from 'node:zlib';
import tar from 'tar-stream';
import WebSocket from 'ws';
import { ApiError, type BerthClient } from '../../src/client/index.js';
import type { RouteOutput } from '../../src/api/contract/index.js';
import { run } from '../../src/lib/exec.js';
import { uniqueSuffix, waitFor } from '../support/wait.js';
import { startServer, type TestServer } from '../support/server.js';
import { viaRouter } from '../support/load.js';
import { after, before } from 'node:test';

export type Build = RouteOutput<'getBuild'>;
export const NODE_WEB = new URL('../../../test/fixtures/apps/node-web/', import.meta.url).pathname;

const FIXTURES = new URL('../../../test/fixtures/apps/', import.meta.url).pathname;

/** A fixture app directory (its folders too) as a tar.gz, the way `berth deploy` would upload it, with some of its files replaced or added. */
export function packFixture(name: string, files: Record<string, string> = {}): Promise<Buffer> {
  const root = join(FIXTURES, name);
  const own = Object.fromEntries(
    readdirSync(root, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => {
        const rel = relative(root, join(e.parentPath, e.name));
        // As bytes: a fixture may carry a binary file (a vendored wheel).
        return [rel, readFileSync(join(root, rel))];
      }),
  );
  return tarGz(Object.entries<string | Buffer>({ ...own, ...files }).map(([n, body]) => ({ name: n, body })));
}

/** The build succeeded and the app it deployed answers through the router: its log and its answer. */
export async function builtAndAnswering(c: BerthClient, routerPort: number, slug: string, buildId: string, timeoutMs: number): Promise<{ log: string; body: string }> {
  const b = await waitBuild(c, buildId, timeoutMs);
  const log = await logText(c, b.id);
  assert.equal(b.status, 'succeeded', `${slug}: ${b.message}\n${log}`);
  const res = await waitFor(
    `${slug} to answer`,
    async () => {
      const r = await viaRouter(routerPort, `${slug}.localhost`);
      return r.status === 200 ? r : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 250 },
  );
  return { log, body: res.body };
}

/** A tar.gz made entry by entry, so a test can write entries no honest packer would. */
export async function tarGz(entries: { name: string; body?: string | Buffer; type?: 'file' | 'directory' | 'symlink'; linkname?: string }[]): Promise<Buffer> {
  const pack = tar.pack();
  const gz = pack.pipe(createGzip());
  const chunks: Buffer[] = [];
  gz.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise((r) => gz.on('end', r));
  for (const e of entries) {
    if (e.type === 'symlink') pack.entry({ name: e.name, type: 'symlink', linkname: e.linkname! });
    else if (e.type === 'directory') pack.entry({ name: e.name, type: 'directory' });
    else pack.entry({ name: e.name, mode: 0o644 }, e.body ?? '');
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** A Dockerfile app in a tar.gz. */
export const dockerfileApp = (dockerfile: string, extra: Record<string, string> = {}) =>
  tarGz([{ name: 'Dockerfile', body: dockerfile }, ...Object.entries(extra).map(([name, body]) => ({ name, body }))]);

export async function upload(
  c: BerthClient,
  buildId: string,
  body: Buffer,
  contentType = 'application/gzip',
): Promise<{ status: number; json: any }> {
  const res = await fetch(c.url(`/api/v1/builds/${buildId}/upload`), {
    method: 'POST',
    headers: { authorization: `Bearer ${c.opts.token}`, 'content-type': contentType },
    body: new Uint8Array(body),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = { text };
  }
  return { status: res.status, json };
}

/** Creates a build, uploads the archive and returns the queued build. */
/** Built images are named by the app's opaque id (berth/<app id>:<n>); the slugs tests know them by. */
const repos = new Map<string, string>();

/** The repository of an app's built images (berth/<app id>), remembered for removeImages. */
export async function builtRepo(c: BerthClient, slug: string): Promise<string> {
  const repo = `berth/${(await c.call('getApp', { params: { id: slug } })).id.toLowerCase()}`;
  repos.set(slug, repo);
  return repo;
}

export async function buildArchive(c: BerthClient, app: string, archive: Buffer): Promise<Build> {
  const b = await c.call('createBuild', { params: { id: app } });
  assert.equal(b.status, 'pending');
  repos.set(b.app.slug, b.image.split(':')[0]);
  const up = await upload(c, b.id, archive);
  assert.equal(up.status, 200, JSON.stringify(up.json));
  return up.json as Build;
}

export const finished = (b: Build) => ['succeeded', 'failed', 'canceled'].includes(b.status);

export function waitBuild(c: BerthClient, id: string, timeoutMs = 240_000, until: (b: Build) => boolean = finished): Promise<Build> {
  return waitFor(
    `build ${id}`,
    async () => {
      const b = await c.call('getBuild', { params: { id } });
      return until(b) ? b : undefined;
    },
    { timeoutMs, intervalMs: 250 },
  );
}

export const logText = async (c: BerthClient, id: string) =>
  (await c.call('getBuildLog', { params: { id } })).lines.map((l) => l.line).join('\n');

export interface WsMessage {
  type: string;
  seq?: number;
  line?: string;
  status?: string;
  message?: string | null;
  at: number;
}

/** Every message of the build log socket, until the server closes it; `onMessage` sees each as it comes. */
export function collectWs(
  baseUrl: string,
  id: string,
  token: string,
  via: 'header' | 'query' = 'header',
  onMessage?: (m: WsMessage) => void,
): Promise<{ messages: WsMessage[]; code: number }> {
  return new Promise((resolve, reject) => {
    const url = new URL(`/ws/builds/${id}/logs`, baseUrl.replace(/^http/, 'ws'));
    if (via === 'query') url.searchParams.set('token', token);
    const ws = new WebSocket(url, via === 'header' ? { headers: { authorization: `Bearer ${token}` } } : {});
    const messages: WsMessage[] = [];
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error('the log socket stayed open for 4 minutes'));
    }, 240_000);
    ws.on('message', (d) => {
      const m: WsMessage = { ...JSON.parse(String(d)), at: Date.now() };
      messages.push(m);
      onMessage?.(m);
    });
    ws.on('close', (code) => {
      clearTimeout(timer);
      resolve({ messages, code });
    });
    ws.on('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode }));
    });
    ws.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

export async function rejects(p: Promise<unknown>, status: number): Promise<ApiError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ApiError, `expected an API error, got ${String(err)}`);
    assert.equal(err.status, status, `status for: ${err.message}`);
    return err;
  }
  assert.fail(`expected HTTP ${status}, but the call succeeded`);
}

/** Removes the images builds of these apps made (berth/<app id>:<n>, for apps builtRepo or buildArchive saw). */
export async function removeImages(slugs: string[]) {
  for (const slug of slugs) {
    const repo = repos.get(slug);
    if (!repo) continue;
    const ids = (await run('docker', ['image', 'ls', '-q', '--filter', `reference=${repo}`], { timeoutMs: 30_000 })).stdout.split('\n').filter(Boolean);
    if (ids.length) await run('docker', ['rmi', '-f', ...new Set(ids)], { timeoutMs: 60_000 });
  }
}

/**
 * A server with one build slot (so builds queue behind each other) and one app for a describe()
 * block: hooks are registered here, the server and a developer's client are handed to `ready`.
 * Returns the app's slug.
 */
export function oneSlotBuildServer(prefix: string, ready: (s: TestServer, dev: BerthClient) => void): string {
  const slug = `${prefix}-${uniqueSuffix()}`;
  let server: TestServer | undefined;
  before(async () => {
    server = await startServer({ env: { BERTH_BUILD_CONCURRENCY: '1' } });
    const dev = await server.newUser('dev');
    await dev.call('createApp', { body: { name: slug } });
    ready(server, dev);
  });
  after(async () => {
    await server?.destroy();
    await removeImages([slug]);
  });
  return slug;
}

/** Ids of the processes whose command line has the marker (a build's RUN step, found from the host). */
export async function buildProcesses(marker: string): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    const cmd = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes(marker)) pids.push(Number(name));
  }
  return pids;
}
