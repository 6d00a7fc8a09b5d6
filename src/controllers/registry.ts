import { X509Certificate } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import { registryDir, type Config } from '../config.js';
import type { Db } from '../store/db.js';
import type { SecretBox } from '../lib/crypto.js';
import { runOk } from '../lib/exec.js';
import { clusterRow } from '../store/cluster.js';
import { appImages } from '../store/images.js';
import { neededImages } from '../domain/images.js';
import type { Cluster } from '../runtime/swarm/types.js';
import type { ImagePusher } from '../runtime/image-push.js';
import { ensureCa, issueLeaf, signedBy } from '../tls/ca.js';
import { renewalDue } from '../tls/policy.js';
import { RegistryApi } from '../registry/api.js';
import { configText, ensureCredentials, ensureDir, putPrivate, readOrNull, registryFiles, writeIfChanged, type Credentials } from '../registry/files.js';
import { appOfRepository, repositoryOf, tagOf, unreferencedManifests } from '../registry/gc.js';
import { RegistryProcess, type RegistryMode } from '../registry/process.js';
import { certsDirFor } from '../registry/trust.js';
import type { ClusterRegistry, PublishedImage, RegistryCollectResult, ReleaseImage } from '../registry/types.js';

export interface RegistryControllerDeps {
  config: Config;
  db: Db;
  secrets: SecretBox;
  log: Logger;
  cluster: Cluster;
  pusher: ImagePusher;
}

/** Liveness is looked at this often; address, certificate and config files every FULL_MS. */
const WATCH_MS = 2_000;
/** How often the images of kept releases that are not in the registry yet are pushed. */
const SYNC_MS = 10_000;
const FULL_MS = 30_000;
const START_TIMEOUT_MS = 30_000;
const PUSH_TIMEOUT_MS = 30 * 60_000;
const GC_TIMEOUT_MS = 30 * 60_000;
const CERT_DAYS = 365;

interface Running {
  address: string;
  caPem: string;
  creds: Credentials;
  api: RegistryApi;
}

/**
 * Cluster mode's image registry: once the Swarm is active, keeps one docker-registry running on
 * the manager (detached: it outlives the control plane; adopted by the next one), with a
 * certificate from Berth's CA for the address nodes reach it at, and one htpasswd account; pushes
 * releases' images to it; deletes the manifests no kept release needs and frees their blobs.
 * Single-node installs never start it. Starting, publishing and collecting run one at a time.
 */
export class RegistryController implements ClusterRegistry {
  private readonly files;
  private readonly proc: RegistryProcess;
  private state: Running | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly timers: NodeJS.Timeout[] = [];
  private lastFull = 0;
  private failures = 0;
  private retryAt = 0;
  /** Releases known to be in the registry (app:version): the sync pass asks the registry about each once. */
  private readonly published = new Set<string>();

  constructor(private readonly deps: RegistryControllerDeps) {
    this.files = registryFiles(registryDir(deps.config.dataDir));
    this.proc = new RegistryProcess(this.files, deps.config.registry.bin);
  }

  start(): void {
    this.every(WATCH_MS, () => this.watch(), 'cluster registry not running');
    this.every(SYNC_MS, () => this.sync(), 'pushing kept releases to the cluster registry failed');
    this.every(this.deps.config.build.imageGcIntervalMs, () => this.collect(), 'registry garbage collection failed', false);
    // A collection cut short by a stop or a crash is finished first.
    void readOrNull(this.files.gcPending).then(async (p) => {
      if (p !== null) await this.collect().catch((err) => this.deps.log.warn({ err }, 'registry garbage collection failed'));
    });
  }

  /** The 2 s look; after a failure (a port taken, an address not ours) the next try waits 2 s doubling to 60 s. */
  private async watch(): Promise<void> {
    if (Date.now() < this.retryAt) return;
    try {
      await this.serial(() => this.ensure());
      this.failures = 0;
    } catch (err) {
      this.failures++;
      this.retryAt = Date.now() + Math.min(60_000, WATCH_MS * 2 ** (this.failures - 1));
      throw err;
    }
  }

  /** A periodic pass that never overlaps itself; a failure is logged once until it changes. */
  private every(ms: number, pass: () => Promise<unknown>, what: string, now = true): void {
    let busy = false;
    let last = '';
    const tick = () => {
      if (busy) return;
      busy = true;
      pass()
        .then(
          () => (last = ''),
          (err: unknown) => {
            const msg = err instanceof Error ? err.message : String(err);
            if (msg !== last) this.deps.log.warn({ err: msg }, what);
            last = msg;
          },
        )
        .finally(() => (busy = false));
    };
    if (now) tick();
    const timer = setInterval(tick, ms);
    timer.unref();
    this.timers.push(timer);
  }

  /** The registry keeps running: nodes pull from it while the control plane is down. */
  async stop(): Promise<void> {
    for (const t of this.timers.splice(0)) clearInterval(t);
    await this.chain.catch(() => {});
  }

  address(): string | null {
    return this.state?.address ?? null;
  }

  async trust(): Promise<{ address: string; caPem: string } | null> {
    const address = await this.wantedAddress();
    return address ? { address, caPem: (await ensureCa(this.deps.config.dataDir)).certPem } : null;
  }

  pullSpec(release: Pick<ReleaseImage, 'app_id' | 'version'>): PublishedImage {
    const s = this.state;
    if (!s) throw new Error('the cluster registry is not running (cluster mode is not initialised, or it failed to start: see the log)');
    return {
      image: `${s.address}/${repositoryOf(release.app_id)}:${tagOf(release.version)}`,
      auth: { username: s.creds.username, password: s.creds.password, serveraddress: s.address },
    };
  }

  publish(release: ReleaseImage, signal?: AbortSignal): Promise<PublishedImage> {
    // Known to be there: no wait behind a push or a collection under way (a collection forgets what it deleted).
    if (this.state && this.published.has(`${release.app_id}:${release.version}`)) return Promise.resolve(this.pullSpec(release));
    return this.serial(async () => {
      // Waits for (or starts) the registry; nodes other than this one could not get the image any other way.
      await this.ensure().catch((err: unknown) => {
        throw new Error(`Berth's registry cannot start: ${err instanceof Error ? err.message : String(err)}`);
      });
      if (!this.state) throw new Error("Berth's registry is not running: the cluster is not initialised (berth cluster init)");
      return this.pushIfMissing(release, signal);
    });
  }

  /**
   * Every kept release's image that the engine has goes to the registry ahead of any rollout, so
   * a node that reschedules a release (a rollback target included) finds it there.
   */
  sync(): Promise<void> {
    return this.serial(async () => {
      if (!(await this.active())) return;
      await this.ensure();
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
    if (!(await this.state!.api.digest(repositoryOf(release.app_id), tagOf(release.version)))) {
      await this.deps.pusher.push(release.image, spec.image, spec.auth, { timeoutMs: PUSH_TIMEOUT_MS, signal });
      this.deps.log.info({ image: spec.image, from: release.image }, 'image pushed to the cluster registry');
    }
    this.published.add(`${release.app_id}:${release.version}`);
    return spec;
  }

  collect(): Promise<RegistryCollectResult> {
    return this.serial(async () => {
      const result: RegistryCollectResult = { deleted: [], collected: false };
      if (!(await this.active())) return result;
      await this.ensure();
      const s = this.state!;
      const kept = new Map<string, Set<string>>();
      for (const r of await this.keptReleases()) kept.set(repositoryOf(r.app_id), (kept.get(repositoryOf(r.app_id)) ?? new Set()).add(tagOf(r.version)));
      const doomed = unreferencedManifests(await this.stored(s.api), kept);
      if (doomed.length) await putPrivate(this.files.gcPending, `${new Date().toISOString()}\n`);
      // Tags go with their manifests: ask the registry again before trusting what was pushed.
      this.published.clear();
      for (const { repo, digest } of doomed) {
        await s.api.deleteManifest(repo, digest);
        result.deleted.push(`${repo}@${digest}`);
      }
      if ((await readOrNull(this.files.gcPending)) === null) return result;
      await this.garbageCollect();
      result.collected = true;
      this.deps.log.info({ deleted: result.deleted.length }, 'cluster registry garbage collected');
      return result;
    });
  }

  /** Runs after whatever runs now; a failure does not stop the next one. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.catch(() => {}).then(fn);
    this.chain = next;
    return next;
  }

  private async active(): Promise<boolean> {
    return this.deps.config.clusterMode && (await clusterRow(this.deps.db))?.status === 'active';
  }

  /** host:port nodes reach the registry at, once the Swarm is active. */
  private async wantedAddress(): Promise<string | null> {
    if (!(await this.active())) return null;
    const { host, port } = this.deps.config.registry;
    const h = host ?? (await this.deps.cluster.status()).node_addr;
    if (!h) throw new Error('the Swarm has no node address yet: set BERTH_REGISTRY_ADDR');
    return `${h}:${port}`;
  }

  /** Brings the registry to what it should be; cheap when it runs and nothing changed. */
  private async ensure(): Promise<void> {
    const running = this.proc.running();
    if (this.state && running?.mode === 'read-write' && Date.now() - this.lastFull < FULL_MS) return;
    const address = await this.wantedAddress();
    if (!address) {
      this.state = null;
      return;
    }
    const host = address.slice(0, address.lastIndexOf(':'));
    const { config, secrets } = this.deps;
    await ensureDir(registryDir(config.dataDir));
    await ensureDir(this.files.storage);
    const ca = await ensureCa(config.dataDir);
    const creds = await ensureCredentials(this.files, secrets);
    let changed = await this.ensureCertificate(host);
    const base = { host, port: config.registry.port, secret: creds.secret };
    changed = (await writeIfChanged(this.files.config, configText(this.files, { ...base, readonly: false }))) || changed;
    await writeIfChanged(this.files.readonlyConfig, configText(this.files, { ...base, readonly: true }));
    await this.trustLocally(address, ca.certPem);
    const api = new RegistryApi(address, ca.certPem, creds);
    if (changed || running?.mode !== 'read-write') await this.restart('read-write', api);
    this.state = { address, caPem: ca.certPem, creds, api };
    this.lastFull = Date.now();
  }

  /** A certificate for the address from Berth's CA, renewed 30 days before it ends; says whether it changed. */
  private async ensureCertificate(host: string): Promise<boolean> {
    const ca = await ensureCa(this.deps.config.dataDir);
    const pem = await readOrNull(this.files.cert);
    if (pem && (await readOrNull(this.files.key)) !== null && signedBy(ca, pem)) {
      const cert = new X509Certificate(pem);
      const names = isIP(host) ? cert.checkIP(host) : cert.checkHost(host);
      if (names && !renewalDue(new Date(cert.validTo), new Date())) return false;
    }
    const leaf = await issueLeaf(ca, [host], { days: CERT_DAYS });
    // Key first: a crash in between leaves no certificate without its key.
    await putPrivate(this.files.key, leaf.keyPem);
    await putPrivate(this.files.cert, leaf.certPem);
    return true;
  }

  /** The control plane's own engine pushes: it trusts the registry by the same certs.d file the join step writes on other nodes. */
  private async trustLocally(address: string, caPem: string): Promise<void> {
    const dir = certsDirFor(this.deps.config.registry.dockerCertsDir, address);
    try {
      await mkdir(dir, { recursive: true, mode: 0o755 });
      await writeIfChanged(`${dir}/ca.crt`, caPem);
    } catch (err) {
      this.deps.log.warn({ err, dir }, "cannot write Berth's CA where the engine looks for it: pushes to the cluster registry will fail");
    }
  }

  private async restart(mode: RegistryMode, api: RegistryApi): Promise<void> {
    await this.proc.stop();
    const pid = await this.proc.start(mode, () => api.answers(), START_TIMEOUT_MS);
    this.deps.log.info({ pid, mode }, 'cluster registry started');
  }

  /** Distribution wants no writes while it marks and sweeps: it serves pulls read-only meanwhile, then takes pushes again. */
  private async garbageCollect(): Promise<void> {
    const api = this.state!.api;
    try {
      await this.restart('readonly', api);
      await runOk(this.deps.config.registry.bin, ['garbage-collect', this.files.config], { timeoutMs: GC_TIMEOUT_MS });
      await rm(this.files.gcPending, { force: true });
    } finally {
      await this.restart('read-write', api);
    }
  }

  /** repository → tag → digest of Berth's repositories in the registry. */
  private async stored(api: RegistryApi): Promise<Map<string, Map<string, string>>> {
    const out = new Map<string, Map<string, string>>();
    for (const repo of await api.repositories()) {
      if (!appOfRepository(repo)) continue;
      const tags = new Map<string, string>();
      for (const tag of await api.tags(repo)) {
        const digest = await api.digest(repo, tag);
        if (digest) tags.set(tag, digest);
      }
      out.set(repo, tags);
    }
    return out;
  }

  /** The releases whose image image garbage collection keeps (src/domain/images.ts); a deleted app has none. */
  private async keptReleases(): Promise<ReleaseImage[]> {
    const keep = this.deps.config.build.keepReleaseImages;
    return (await appImages(this.deps.db)).flatMap((a) => {
      const needed = neededImages(a, keep);
      return a.releases.filter((r) => needed.has(r.image)).map((r) => ({ app_id: a.appId, version: r.version, image: r.image }));
    });
  }
}
