import { X509Certificate } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import { registryDir, type Config } from '../../config.js';
import type { Db } from '../../store/db.js';
import type { SecretBox } from '../../lib/crypto.js';
import { runOk } from '../../lib/exec.js';
import { clusterRow } from '../../store/cluster.js';
import type { Cluster } from '../../runtime/swarm/types.js';
import type { ImagePusher } from '../../runtime/image-push.js';
import { ensureCa, issueLeaf, signedBy } from '../../tls/ca.js';
import { renewalDue } from '../../tls/policy.js';
import { RegistryApi } from '../../registry/api.js';
import { configText, ensureCredentials, ensureDir, putPrivate, readOrNull, registryFiles, writeIfChanged, type Credentials } from '../../registry/files.js';
import { RegistryProcess, type RegistryMode } from '../../registry/process.js';
import { certsDirFor } from '../../registry/trust.js';

export interface RegistryControllerDeps {
  config: Config;
  db: Db;
  secrets: SecretBox;
  log: Logger;
  cluster: Cluster;
  pusher: ImagePusher;
}

/** Address, certificate and config files are looked at again this often (liveness every watch). */
const FULL_MS = 30_000;
const START_TIMEOUT_MS = 30_000;
const GC_TIMEOUT_MS = 30 * 60_000;
const CERT_DAYS = 365;

export interface Running {
  address: string;
  caPem: string;
  creds: Credentials;
  api: RegistryApi;
}

/**
 * The registry process brought to what it should be: running on the manager once the Swarm is
 * active, with a certificate from Berth's CA for the address nodes reach it at, its config and
 * account files, and the control plane's own engine trusting it. The controller (index.ts) calls
 * it one step at a time.
 */
export class RegistryServer {
  readonly files;
  private readonly proc: RegistryProcess;
  state: Running | null = null;
  private lastFull = 0;

  constructor(private readonly deps: RegistryControllerDeps) {
    this.files = registryFiles(registryDir(deps.config.dataDir));
    this.proc = new RegistryProcess(this.files, deps.config.registry.bin);
  }

  async active(): Promise<boolean> {
    return this.deps.config.clusterMode && (await clusterRow(this.deps.db))?.status === 'active';
  }

  /** host:port nodes reach the registry at, once the Swarm is active. */
  async wantedAddress(): Promise<string | null> {
    if (!(await this.active())) return null;
    const { host, port } = this.deps.config.registry;
    const h = host ?? (await this.deps.cluster.status()).node_addr;
    if (!h) throw new Error('the Swarm has no node address yet: set BERTH_REGISTRY_ADDR');
    return `${h}:${port}`;
  }

  /** Brings the registry to what it should be; cheap when it runs and nothing changed. */
  async ensure(): Promise<void> {
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
  async garbageCollect(): Promise<void> {
    const api = this.state!.api;
    try {
      await this.restart('readonly', api);
      await runOk(this.deps.config.registry.bin, ['garbage-collect', this.files.config], { timeoutMs: GC_TIMEOUT_MS });
      await rm(this.files.gcPending, { force: true });
    } finally {
      await this.restart('read-write', api);
    }
  }
}
