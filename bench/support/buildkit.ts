import { spawn } from 'node:child_process';
import { request } from 'node:http';

/**
 * `docker build` with the engine's BuildKit, through the Engine API (`POST /build?version=2`, the
 * context as a tar body): the baseline for Berth's builds, whose generated Dockerfiles use cache
 * mounts (`RUN --mount=type=cache`) that the classic builder does not know. The docker CLI on this
 * machine has no buildx plugin, which it now needs for BuildKit; the engine's API does not.
 */
const SOCKET = '/var/run/docker.sock';

function engine(method: string, path: string, body?: NodeJS.ReadableStream, timeoutMs = 600_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: SOCKET, method, path, headers: body ? { 'content-type': 'application/x-tar' } : {}, timeout: timeoutMs }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => ((res.statusCode ?? 500) < 300 ? resolve(text) : reject(new Error(`${method} ${path}: HTTP ${res.statusCode} ${text.slice(0, 300)}`))));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
    req.on('error', reject);
    if (body) body.pipe(req);
    else req.end();
  });
}

/** Builds dir (its Dockerfile) as tag; noCache: no layer from an earlier build. Returns the milliseconds it took. */
export async function buildkitBuild(dir: string, tag: string, opts: { noCache?: boolean } = {}): Promise<number> {
  const t0 = performance.now();
  const tar = spawn('tar', ['-C', dir, '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const q = new URLSearchParams({ version: '2', t: tag, ...(opts.noCache ? { nocache: '1' } : {}) });
  const out = await engine('POST', `/v1.41/build?${q}`, tar.stdout);
  // Errors come in the stream, after a 200.
  for (const line of out.split('\n')) {
    if (!line.trim()) continue;
    const msg = JSON.parse(line) as { error?: string; errorDetail?: { message?: string } };
    if (msg.error || msg.errorDetail) throw new Error(`BuildKit build of ${tag} failed: ${msg.errorDetail?.message ?? msg.error}`);
  }
  return performance.now() - t0;
}

/** The ids of BuildKit's cache records now (what a run made is pruned by id afterwards). */
export async function buildkitCacheIds(): Promise<Set<string>> {
  const df = JSON.parse(await engine('GET', '/v1.41/system/df?type=build-cache')) as { BuildCache?: { ID: string }[] | null };
  return new Set((df.BuildCache ?? []).map((c) => c.ID));
}

/**
 * Prunes the cache records that were not there before: this run's layers and cache mounts only.
 * A record goes only once nothing depends on it, so passes repeat while they remove something;
 * BuildKit keeps the empty records of the local images builds started from (0 bytes).
 */
export async function pruneBuildkitSince(before: Set<string>): Promise<void> {
  for (let pass = 0; pass < 20; pass++) {
    let removed = 0;
    for (const id of await buildkitCacheIds()) {
      if (before.has(id)) continue;
      const out = await engine('POST', `/v1.41/build/prune?${new URLSearchParams({ filters: JSON.stringify({ id: [id] }) })}`).catch(() => '');
      if (/"CachesDeleted":\[/.test(out)) removed++;
    }
    if (!removed) return;
  }
}

/**
 * The Dockerfile with its cache ids made unique to this run: BuildKit keeps cache mounts for the
 * whole engine, so a "cold" baseline must not find an earlier run's (Berth's per-project caches
 * start empty for a new project).
 */
export const runOwnCacheIds = (dockerfile: string, runId: string) => dockerfile.replace(/(--mount=type=cache,id=)([A-Za-z0-9._-]+)/g, `$1$2-bench-${runId}`);
