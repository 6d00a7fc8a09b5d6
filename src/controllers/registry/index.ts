import { ensureCa } from '../../tls/ca.js';
import { readOrNull } from '../../registry/files.js';
import { repositoryOf, tagOf } from '../../registry/gc.js';
import type { ClusterRegistry, PublishedImage, RegistryCollectResult, ReleaseImage } from '../../registry/types.js';
import { RegistryServer, type RegistryControllerDeps } from './server.js';
import { collectOnce, keptReleases } from './collect.js';
import { periodic } from './periodic.js';

export type { RegistryControllerDeps };

/** Liveness is looked at this often (address, certificate and config files every 30 s: server.ts). */
const WATCH_MS = 2_000;
/** How often the images of kept releases that are not in the registry yet are pushed. */
const SYNC_MS = 10_000;
const PUSH_TIMEOUT_MS = 30 * 60_000;

/**
 * Cluster mode's image registry: once the Swarm is active, keeps one docker-registry running on
 * the manager (detached: it outlives the control plane; adopted by the next one), with a
 * certificate from Berth's CA for the address nodes reach it at, and one htpasswd account; pushes
 * releases' images to it; deletes the manifests no kept release needs and frees their blobs.
 * Single-node installs never start it. Starting, publishing and collecting run one at a time.
 */
export class RegistryController implements ClusterRegistry {
  private readonly server: RegistryServer;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly timers: NodeJS.Timeout[] = [];
  private failures = 0;
  private retryAt = 0;
  /** Releases known to be in the registry (app:version): the sync pass asks the registry about each once. */
  private readonly published = new Set<string>();

  constructor(private readonly deps: RegistryControllerDeps) {
    this.server = new RegistryServer(deps);
  }

  start(): void {
    this.every(WATCH_MS, () => this.watch(), 'cluster registry not running');
    this.every(SYNC_MS, () => this.sync(), 'pushing kept releases to the cluster registry failed');
    this.every(this.deps.config.build.imageGcIntervalMs, () => this.collect(), 'registry garbage collection failed', false);
    // A collection cut short by a stop or a crash is finished first.
    void readOrNull(this.server.files.gcPending).then(async (p) => {
      if (p !== null) await this.collect().catch((err) => this.deps.log.warn({ err }, 'registry garbage collection failed'));
    });
  }

  /** The 2 s look; after a failure (a port taken, an address not ours) the next try waits 2 s doubling to 60 s. */
  private async watch(): Promise<void> {
    if (Date.now() < this.retryAt) return;
    try {
      await this.serial(() => this.server.ensure());
      this.failures = 0;
    } catch (err) {
      this.failures++;
      this.retryAt = Date.now() + Math.min(60_000, WATCH_MS * 2 ** (this.failures - 1));
      throw err;
    }
  }

  private every(ms: number, pass: () => Promise<unknown>, what: string, now = true): void {
    this.timers.push(periodic(ms, pass, (msg) => this.deps.log.warn({ err: msg }, what), now));
  }

  /** The registry keeps running: nodes pull from it while the control plane is down. */
  async stop(): Promise<void> {
    for (const t of this.timers.splice(0)) clearInterval(t);
    await this.chain.catch(() => {});
  }

  address(): string | null {
    return this.server.state?.address ?? null;
  }

  async trust(): Promise<{ address: string; caPem: string } | null> {
    const address = await this.server.wantedAddress();
    return address ? { address, caPem: (await ensureCa(this.deps.config.dataDir)).certPem } : null;
  }

  pullSpec(release: Pick<ReleaseImage, 'app_id' | 'version'>): PublishedImage {
    const s = this.server.state;
    if (!s) throw new Error('the cluster registry is not running (cluster mode is not initialised, or it failed to start: see the log)');
    return {
      image: `${s.address}/${repositoryOf(release.app_id)}:${tagOf(release.version)}`,
      auth: { username: s.creds.username, password: s.creds.password, serveraddress: s.address },
    };
  }

  publish(release: ReleaseImage, signal?: AbortSignal): Promise<PublishedImage> {
    // Known to be there: no wait behind a push or a collection under way (a collection forgets what it deleted).
    if (this.server.state && this.published.has(`${release.app_id}:${release.version}`)) return Promise.resolve(this.pullSpec(release));
    return this.serial(async () => {
      // Waits for (or starts) the registry; nodes other than this one could not get the image any other way.
      await this.server.ensure().catch((err: unknown) => {
        throw new Error(`Berth's registry cannot start: ${err instanceof Error ? err.message : String(err)}`);
      });
      if (!this.server.state) throw new Error("Berth's registry is not running: the cluster is not initialised (berth cluster init)");
      return this.pushIfMissing(release, signal);
    });
  }

  /**
   * Every kept release's image that the engine has goes to the registry ahead of any rollout, so
   * a node that reschedules a release (a rollback target included) finds it there.
   */
  sync(): Promise<void> {
    return this.serial(async () => {
      if (!(await this.server.active())) return;
      await this.server.ensure();
      for (const r of await this.keptReleases()) {
        if (this.published.has(`${r.app_id}:${r.version}`)) continue;
        try {
          if (await this.deps.pusher.present(r.image)) await this.pushIfMissing(r);
        } catch (err) {
          this.deps.log.warn({ err, app: r.app_id, version: r.version }, 'release image not pushed to the cluster registry');
        }
      }
    });
  }

  private async pushIfMissing(release: ReleaseImage, signal?: AbortSignal): Promise<PublishedImage> {
    const spec = this.pullSpec(release);
    // A release's image never changes: a tag the registry has is that image already.
    if (!(await this.server.state!.api.digest(repositoryOf(release.app_id), tagOf(release.version)))) {
      await this.deps.pusher.push(release.image, spec.image, spec.auth, { timeoutMs: PUSH_TIMEOUT_MS, signal });
      this.deps.log.info({ image: spec.image, from: release.image }, 'image pushed to the cluster registry');
    }
    this.published.add(`${release.app_id}:${release.version}`);
    return spec;
  }

  collect(): Promise<RegistryCollectResult> {
    return this.serial(async () => {
      if (!(await this.server.active())) return { deleted: [], collected: false };
      await this.server.ensure();
      const result = await collectOnce(this.server, await this.keptReleases(), this.published);
      if (result.collected) this.deps.log.info({ deleted: result.deleted.length }, 'cluster registry garbage collected');
      return result;
    });
  }

  /** Runs after whatever runs now; a failure does not stop the next one. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.catch(() => {}).then(fn);
    this.chain = next;
    return next;
  }

  private keptReleases = (): Promise<ReleaseImage[]> => keptReleases(this.deps.db, this.deps.config.build.keepReleaseImages);
}
