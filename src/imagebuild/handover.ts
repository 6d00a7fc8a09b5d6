import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { run } from '../lib/exec.js';
import { ensureDir, readOrNull, registryFiles, writeIfChanged } from '../registry/files.js';
import { RegistryProcess } from '../registry/process.js';

/**
 * The way built images reach the engine: a docker-registry (Debian's Distribution) of this
 * instance, listening on 127.0.0.1 only and only while a hand-over is under way. `buildah push`
 * uploads the blobs it lacks (a build's new layers; the stack layers once per registry), and the
 * engine pulls only the layers it lacks; `buildah push docker-daemon:` streamed the whole image,
 * stack layers included, on every build.
 *
 * Who reaches it: the control plane on the host's loopback. App containers and builds have
 * loopbacks of their own (builds run in their anchor's namespace), and the address is not on any
 * bridge. Once the last hand-over ends it stops and `garbage-collect --delete-untagged` keeps one
 * image per project (its tag `last`: the stack layers and that project's newest layers), so the
 * next build's push skips them and the storage does not grow with every build.
 */
export class HandoverRegistry {
  private readonly files: ReturnType<typeof registryFiles>;
  private readonly proc: RegistryProcess;
  private users = 0;
  private port: number | null = null;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly dir: string,
    private readonly bin = 'docker-registry',
  ) {
    this.files = registryFiles(dir);
    this.proc = new RegistryProcess(this.files, bin);
  }

  /** Runs `fn` with the registry up (`host` is 127.0.0.1:PORT); the last user out stops and collects it. */
  async use<T>(fn: (host: string) => Promise<T>): Promise<T> {
    const host = await this.serial(async () => {
      if (this.port === null) this.port = await this.start();
      this.users++;
      return `127.0.0.1:${this.port}`;
    });
    try {
      return await fn(host);
    } finally {
      await this.serial(async () => {
        this.users--;
        if (this.users > 0) return;
        this.port = null;
        await this.proc.stop();
        await this.collect();
      });
    }
  }

  /** After a crash: the registry a dead process left running goes, and what it held unreferenced with it. */
  sweep(): Promise<void> {
    return this.serial(async () => {
      if (this.users > 0) return;
      await this.proc.stop();
      await this.collect();
    });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn);
    this.chain = next.catch(() => {});
    return next;
  }

  private async start(): Promise<number> {
    await ensureDir(this.dir);
    await ensureDir(this.files.storage);
    // The same port as last time when it is free: buildah's blob-info cache knows which compressed
    // blobs a registry has by host and port, and only then skips compressing the stack layers again.
    // Otherwise one the kernel hands out; should another process take it first, the registry exits and the next try picks again.
    const portFile = join(this.dir, 'port');
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const kept = attempt === 0 ? Number((await readOrNull(portFile))?.trim()) : NaN;
      const port = Number.isInteger(kept) && kept > 1024 && kept < 65536 && (await portFree(kept)) ? kept : await freeLoopbackPort();
      // Its answers carry this nonce: a registry of another instance that took the port in between is not mistaken for ours.
      const nonce = randomBytes(16).toString('hex');
      await writeIfChanged(this.files.config, configText(this.files.storage, port, nonce));
      try {
        await this.proc.start('read-write', () => answers(port, nonce), 20_000);
        await writeIfChanged(portFile, `${port}\n`);
        return port;
      } catch (err) {
        lastError = err;
      }
    }
    throw new Error(`the build hand-over registry did not start: ${(lastError as Error).message}`);
  }

  /** Frees the blobs no tag holds; the registry is stopped (Distribution's garbage-collect requires it). */
  private async collect(): Promise<void> {
    if (this.proc.running()) return;
    const r = await run(this.bin, ['garbage-collect', '--delete-untagged', this.files.config], { timeoutMs: 120_000 }).catch(() => null);
    // A failed pass leaves blobs for the next one; the hand-over itself succeeded.
    void r;
  }
}

/** The repository of a project's images in the hand-over registry (a name Distribution accepts whatever the id). */
export const handoverRepository = (projectId: string) => `p/${createHash('sha256').update(projectId).digest('hex').slice(0, 24)}`;

function configText(storage: string, port: number, nonce: string): string {
  const config = {
    version: '0.1',
    log: { level: 'warn', formatter: 'text', accesslog: { disabled: true } },
    storage: { filesystem: { rootdirectory: storage }, delete: { enabled: true } },
    // Loopback only, plain HTTP: the engine takes 127.0.0.0/8 registries as insecure-allowed, and nothing else reaches this address.
    http: { addr: `127.0.0.1:${port}`, secret: randomBytes(24).toString('base64url'), headers: { 'X-Content-Type-Options': ['nosniff'], [NONCE_HEADER]: [nonce] } },
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

const portFree = (port: number) => listenOnce(port).then(() => true, () => false);
const freeLoopbackPort = () => listenOnce(0);

function listenOnce(want: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(want, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

const NONCE_HEADER = 'X-Berth-Handover';

async function answers(port: number, nonce: string): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/v2/`, { signal: AbortSignal.timeout(2_000) });
    await res.arrayBuffer();
    return res.status === 200 && res.headers.get(NONCE_HEADER) === nonce;
  } catch {
    return false;
  }
}

export const handoverDir = (dataDir: string) => join(dataDir, 'build-handover');
