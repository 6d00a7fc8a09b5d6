import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import type { BerthClient } from '../../src/client/index.js';
import { run, runOk } from '../../src/lib/exec.js';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { ensureTestAppImage } from '../../test/support/images.js';
import { startServer, type Engine, type TestServer } from '../../test/support/server.js';
import { viaRouter } from '../../test/support/load.js';
import { uniqueSuffix, waitFor } from '../../test/support/wait.js';

export const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
/** Baseline containers and networks carry this label, so the run removes all it made. */
export const LABEL = 'berth-bench';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** PostgreSQL for the PostgreSQL figures: the one the caller named, or the local one scripts/postgres.sh starts. */
export async function ensurePostgres(): Promise<void> {
  if (process.env.BERTH_TEST_PG_URL) return;
  const res = await runOk('bash', [resolve(ROOT, 'scripts/postgres.sh')], { timeoutMs: 300_000 });
  process.env.BERTH_TEST_PG_URL = res.stdout.trim().split('\n').at(-1);
}

/** What the figures share: one Berth server on the embedded database, the test app image, a user. */
export class Bench {
  readonly runId = `b${uniqueSuffix()}`;
  readonly runtime = new DockerRuntime({});
  private server?: Promise<{ s: TestServer; dev: BerthClient }>;
  private servers: TestServer[] = [];
  private images = new Set<string>();
  private appCount = 0;

  image(): Promise<string> {
    return ensureTestAppImage(this.runtime);
  }

  /** Starts a server of its own (for the control-plane figures); destroyed with the bench. */
  async startServer(engine: Engine, env: Record<string, string> = {}): Promise<TestServer> {
    if (engine === 'postgres') await ensurePostgres();
    const s = await startServer({ engine, env: { LOG_LEVEL: process.env.LOG_LEVEL ?? 'info', ...env } });
    this.servers.push(s);
    return s;
  }

  /** A second control plane on the first one's PostgreSQL database (its own data directory and ports). */
  async startPeer(first: TestServer, env: Record<string, string> = {}): Promise<TestServer> {
    const s = await startServer({ engine: 'postgres', databaseUrl: first.env.DATABASE_URL, env: { LOG_LEVEL: process.env.LOG_LEVEL ?? 'info', ...env } });
    this.servers.push(s);
    return s;
  }

  shared(): Promise<{ s: TestServer; dev: BerthClient }> {
    this.server ??= (async () => {
      const s = await this.startServer('sqlite');
      const dev = await s.newUser('bench');
      await dev.call('createProject', { body: { name: 'bench' } });
      return { s, dev };
    })();
    return this.server;
  }

  /** A fresh app name, unique within the run. */
  appName(what: string): string {
    return `${what}-${++this.appCount}-${this.runId}`.slice(0, 60);
  }

  removeImageLater(tag: string) {
    this.images.add(tag);
  }

  /** The bridge addresses of an app's replicas, as the host reaches them. */
  async replicaAddresses(dev: BerthClient, slug: string): Promise<string[]> {
    const items = (await dev.call('listContainers', { query: { app: slug } })).items;
    const out: string[] = [];
    for (const c of items) {
      const info = c.docker_id ? await this.runtime.inspectContainer(c.docker_id) : undefined;
      const ip = info && Object.values(info.addresses)[0];
      if (ip) out.push(ip);
    }
    return out;
  }

  /** Waits until the app has n replicas, all healthy and in rotation. */
  async healthy(dev: BerthClient, slug: string, n: number, timeoutMs = 120_000) {
    return waitFor(
      `${slug}: ${n} healthy replicas`,
      async () => {
        const items = (await dev.call('listContainers', { query: { app: slug } })).items;
        return items.length === n && items.every((c) => c.status === 'healthy' && c.in_rotation) ? items : undefined;
      },
      { timeoutMs, intervalMs: 100 },
    );
  }

  /** Deploys the test app image with a health check and waits until it serves through the router. */
  async deployTestApp(slug: string, replicas: number, extra: { strategy?: 'rolling' | 'blue-green' | 'recreate' } = {}) {
    const { s, dev } = await this.shared();
    const image = await this.image();
    await dev.call('createApp', {
      body: { name: slug, project: 'bench', health_check: { path: '/health', timeout_s: 60, grace_s: 0 }, ...extra },
    });
    await dev.call('deployApp', { params: { id: slug }, body: { image_id: image, replicas } });
    await this.healthy(dev, slug, replicas);
    await waitFor(`${slug} through the router`, async () => (await viaRouter(s.routerPort, `${slug}.localhost`)).status === 200, {
      timeoutMs: 30_000,
      intervalMs: 50,
    });
    return { s, dev };
  }

  /** Removes everything the run made: servers (their containers, networks, Caddy, databases), baseline containers and volumes, images. */
  async cleanup(): Promise<void> {
    for (const s of this.servers) await s.destroy().catch((e) => console.error(`bench: cleanup of a server failed: ${e}`));
    const filter = `label=${LABEL}=${this.runId}`;
    const ids = (await run('docker', ['ps', '-aq', '--filter', filter], { timeoutMs: 30_000 })).stdout.split('\n').filter(Boolean);
    if (ids.length) await run('docker', ['rm', '-f', ...ids], { timeoutMs: 120_000 });
    const vols = (await run('docker', ['volume', 'ls', '-q', '--filter', filter], { timeoutMs: 30_000 })).stdout.split('\n').filter(Boolean);
    if (vols.length) await run('docker', ['volume', 'rm', ...vols], { timeoutMs: 60_000 });
    const nets = (await run('docker', ['network', 'ls', '-q', '--filter', filter], { timeoutMs: 30_000 })).stdout.split('\n').filter(Boolean);
    if (nets.length) await run('docker', ['network', 'rm', ...nets], { timeoutMs: 60_000 });
    if (this.images.size) await run('docker', ['rmi', '-f', ...this.images], { timeoutMs: 120_000 });
  }

  /** A user network for baseline containers, as someone running `docker run` by hand would make one. */
  private network?: Promise<string>;
  baselineNetwork(): Promise<string> {
    this.network ??= (async () => {
      const name = `bench-${this.runId}`;
      await runOk('docker', ['network', 'create', '--label', `${LABEL}=${this.runId}`, name], { timeoutMs: 30_000 });
      return name;
    })();
    return this.network;
  }

  /** `docker run -d` of the image on the baseline network; returns the container id. */
  async dockerRun(image: string, env: Record<string, string> = {}): Promise<string> {
    const net = await this.baselineNetwork();
    const envArgs = Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
    const res = await runOk('docker', ['run', '-d', '--label', `${LABEL}=${this.runId}`, '--network', net, ...envArgs, image], { timeoutMs: 60_000 });
    return res.stdout.trim();
  }

  async containerIp(id: string): Promise<string> {
    const res = await runOk('docker', ['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', id], { timeoutMs: 20_000 });
    const ip = res.stdout.trim();
    if (!ip) throw new Error(`container ${id} has no address`);
    return ip;
  }
}

/** One GET with a short timeout; the status, or 0 when nothing answered. */
export async function statusOf(url: string, headers: Record<string, string> = {}): Promise<number> {
  try {
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(2000) });
    await res.body?.cancel();
    return res.status;
  } catch {
    return 0;
  }
}

/** Polls every intervalMs until check() is true; milliseconds from `since` to that moment. */
export async function timeUntil(since: number, check: () => Promise<boolean>, what: string, timeoutMs = 120_000, intervalMs = 20): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return performance.now() - since;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** Times a backup or restore job from the call that queues it until it has succeeded (a failed one throws). */
export async function timeJob(queue: () => Promise<{ id: string }>, status: (id: string) => Promise<string>): Promise<{ id: string; ms: number }> {
  const started = performance.now();
  const { id } = await queue();
  let last = '';
  await timeUntil(started, async () => {
    last = await status(id);
    return last === 'succeeded' || last === 'failed';
  }, 'the job', 600_000, 50);
  if (last !== 'succeeded') throw new Error(`job ${id} ${last}`);
  return { id, ms: performance.now() - started };
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
