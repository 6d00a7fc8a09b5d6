import { X509Certificate } from 'node:crypto';
import { appSlugs } from '../store/apps.js';
import { verifiedDomains } from '../store/domains.js';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Db } from '../store/db.js';
import type { Certificate, Router } from '../router/types.js';
import { AcmeClient, type AcmeIssuer, type ChallengeSink } from '../acme/client.js';
import { ensureCa, issueLeaf, signedBy } from '../tls/ca.js';
import { certName, readCertFiles, removeCertFiles, writeCertFiles } from '../tls/files.js';
import { issuerFor, renewalDue, retryDelayMs, type Issuer } from '../tls/policy.js';
import * as store from '../store/certificates.js';
import type { CertificateRow } from '../store/certificates.js';

export interface CertificateControllerOptions {
  clock?: () => Date;
  /** Replaces the ACME client built from the config (tests). */
  acme?: AcmeIssuer;
  /** How often the desired certificates are compared with the issued ones (renewals, retries, drift). */
  intervalMs?: number;
}

type Deps = { db: Db; config: Config; log: Logger };

/** While issuing many Berth CA certificates in one pass, hand the router what is ready this often. */
const PUSH_EVERY_MS = 2000;

/**
 * Keeps one valid certificate per routed host (each app's host and its verified custom domains):
 * private names from Berth's CA, public ones from ACME when an account email is set. The database
 * row is written before anything is issued; issued certificates sit in the data directory and are
 * handed to the router as a whole set. Renews 30 days before expiry; failures retry with backoff
 * while a still-valid certificate keeps being served.
 */
export class CertificateController {
  private readonly clock: () => Date;
  private readonly acme: AcmeIssuer | null;
  private readonly intervalMs: number;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private running: Promise<void> | null = null;
  private again = false;
  private acmeRun: Promise<void> | null = null;
  /** Rows waiting for an ACME order (a Set iterates over what is added while it runs). */
  private readonly acmeQueue = new Set<string>();
  /** The row whose order is in flight: a pass that finds it still pending must not queue it again. */
  private ordering: string | null = null;
  private pushChain: Promise<void> = Promise.resolve();
  /** What the router was last given ("name serial" lines); null: nothing yet since start. */
  private pushed: string | null = null;
  /** PEMs read from the data directory, by name, with the serial they were read for. */
  private readonly pems = new Map<string, { serial: string; certPem: string; keyPem: string }>();
  private readonly answers = new Map<string, string>();
  /** Files and signatures are checked on the first pass only (a lost file or a replaced CA happens between runs). */
  private filesChecked = false;

  constructor(
    private readonly deps: Deps,
    private readonly router: Router,
    opts: CertificateControllerOptions = {},
  ) {
    this.clock = opts.clock ?? (() => new Date());
    this.intervalMs = opts.intervalMs ?? 30_000;
    const c = deps.config;
    this.acme = opts.acme ?? (c.acmeEmail ? new AcmeClient({ directoryUrl: c.acmeDirectory, email: c.acmeEmail, dataDir: c.dataDir, caFile: c.acmeCaFile, egress: c.egressAllow }) : null);
  }

  /** Reconciles at once (without waiting for ACME orders) and then every intervalMs. */
  async start(): Promise<void> {
    const tick = async () => {
      if (this.stopped) return;
      await this.reconcile().catch((err) => this.deps.log.warn({ err }, 'certificate reconcile failed'));
      if (!this.stopped) this.timer = setTimeout(tick, this.intervalMs);
    };
    await tick();
  }

  /**
   * Stops the loop. An ACME order in flight is not waited for (it may take minutes): its row stays
   * pending and the next start orders again.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await Promise.allSettled([this.running, this.pushChain]);
  }

  /** Something routed changed (an app, a verified domain): look again now. */
  nudge(): void {
    void this.reconcile().catch((err) => this.deps.log.warn({ err }, 'certificate reconcile failed'));
  }

  /**
   * One pass: rows follow the routed hosts, the router gets what is issued, Berth CA certificates due
   * are issued at once; ACME orders run in their own lane (resolved by settled()), so a slow CA never
   * holds back a private name.
   */
  reconcile(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.pass();
        } while (this.again && !this.stopped);
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  /** Resolves when the current reconcile and any ACME orders it started are done (tests). */
  async settled(): Promise<void> {
    while (this.running || this.acmeRun) await Promise.allSettled([this.running, this.acmeRun]);
  }

  private async pass(): Promise<void> {
    const { db, config } = this.deps;
    const wanted = new Map<string, { hostname: string; issuer: Issuer }>();
    for (const hostname of await this.routedHosts()) {
      const issuer = issuerFor(hostname, { acme: this.acme !== null, internalDomains: config.internalDomains });
      wanted.set(certName(hostname), { hostname, issuer });
    }
    const rows = await store.allCertificates(db);
    const gone = rows.filter((r) => !wanted.has(r.name)).map((r) => r.name);
    await store.deleteCertificates(db, gone);
    for (const name of gone) await removeCertFiles(config.dataDir, name);
    const have = new Map(rows.map((r) => [r.name, r]));
    for (const [name, w] of wanted) {
      const row = have.get(name);
      if (!row || row.issuer !== w.issuer) await store.upsertPending(db, { name, ...w });
    }
    if (!this.filesChecked) {
      await this.checkFiles(await store.allCertificates(db));
      this.filesChecked = true;
    }
    const current = await store.allCertificates(db);
    await this.push(current);
    const due = current.filter((r) => this.isDue(r));
    const local = due.filter((r) => r.issuer === 'berth-ca');
    let lastPush = performance.now();
    for (const [i, row] of local.entries()) {
      await this.issue(row, async () => issueLeaf(await ensureCa(config.dataDir, this.clock()), [row.hostname], { now: this.clock() }));
      // 10-20 ms each: with many hosts (a first start after an upgrade) the router gets them every
      // couple of seconds rather than all at the end, and not after each one (a push costs more with the set's size).
      if (i === local.length - 1 || performance.now() - lastPush > PUSH_EVERY_MS) {
        await this.push(await store.allCertificates(db));
        lastPush = performance.now();
      }
    }
    const orders = due.filter((r) => r.issuer === 'acme').map((r) => r.name);
    if (orders.length) this.startAcme(orders);
  }

  /** Hosts the router serves: every app's slug host and its verified custom domains. */
  private async routedHosts(): Promise<string[]> {
    const db = this.deps.db;
    const [apps, domains] = await Promise.all([
      appSlugs(db),
      verifiedDomains(db),
    ]);
    return [...apps.map((slug) => `${slug}.${this.deps.config.routerDomain}`), ...domains.map((d) => d.hostname)];
  }

  /** Whether a row needs a certificate now: never issued, or renewal due; a failure's backoff respected. */
  private isDue(r: CertificateRow): boolean {
    const now = this.clock();
    if (r.next_attempt_at && Date.parse(r.next_attempt_at) > now.getTime()) return false;
    return r.status !== 'issued' || !r.not_after || renewalDue(new Date(r.not_after), now);
  }

  /** Issued rows whose files were lost, or (Berth CA) signed by a CA since replaced, go back to pending. */
  private async checkFiles(rows: CertificateRow[]): Promise<void> {
    const ca = await ensureCa(this.deps.config.dataDir);
    for (const r of rows) {
      if (r.status !== 'issued') continue;
      const files = await readCertFiles(this.deps.config.dataDir, r.name);
      if (files && (r.issuer !== 'berth-ca' || signedBy(ca, files.certPem))) continue;
      this.deps.log.warn({ host: r.hostname }, files ? 'certificate signed by another CA: issuing again' : 'certificate files missing: issuing again');
      await store.upsertPending(this.deps.db, r);
    }
  }

  /** Queues ACME orders for these rows; one lane works the queue, an order at a time. */
  private startAcme(names: string[]): void {
    for (const n of names) if (n !== this.ordering) this.acmeQueue.add(n);
    if (this.acmeRun) return;
    this.acmeRun = (async () => {
      try {
        for (const name of this.acmeQueue) {
          this.acmeQueue.delete(name);
          if (this.stopped) return;
          this.ordering = name;
          // Read again: the row may have gone (domain removed) or changed issuer while queued.
          const row = await store.certificateByName(this.deps.db, name);
          if (!row || row.issuer !== 'acme' || !this.isDue(row)) continue;
          if (await this.issue(row, () => this.acme!.issue([row.hostname], this.sink()))) await this.push(await store.allCertificates(this.deps.db));
        }
      } catch (err) {
        this.deps.log.warn({ err }, 'ACME lane failed');
      } finally {
        this.ordering = null;
        this.acmeRun = null;
      }
    })();
  }

  /** Issues and stores one certificate, recording the outcome; true when it succeeded. */
  private async issue(row: CertificateRow, make: () => Promise<{ certPem: string; keyPem: string; notAfter: Date }>): Promise<boolean> {
    const { db, config, log } = this.deps;
    try {
      const made = await make();
      await writeCertFiles(config.dataDir, row.name, made);
      const serial = new X509Certificate(made.certPem).serialNumber.toLowerCase();
      await store.recordIssued(db, row.name, { serial, notAfter: made.notAfter, at: this.clock() });
      log.info({ host: row.hostname, issuer: row.issuer, notAfter: made.notAfter }, row.status === 'issued' ? 'certificate renewed' : 'certificate issued');
      return true;
    } catch (err) {
      const attempts = row.attempts + 1;
      const now = this.clock();
      const stillValid = row.status === 'issued' && !!row.not_after && Date.parse(row.not_after) > now.getTime();
      const message = `${stillValid ? 'renewal' : 'issuance'} failed: ${(err as Error).message}`.slice(0, 1000);
      await store.recordFailure(db, row.name, { status: stillValid ? 'issued' : 'failed', message, attempts, nextAttemptAt: new Date(now.getTime() + retryDelayMs(attempts)) });
      log.warn({ host: row.hostname, issuer: row.issuer, attempts, err }, 'certificate issuance failed');
      return false;
    }
  }

  /**
   * Hands the router every unexpired issued certificate, when the set (names and serials, from the
   * rows: cheap enough for every nudge) differs from what it was last given.
   */
  private push(rows: CertificateRow[]): Promise<void> {
    const run = this.pushChain.then(async () => {
      const now = this.clock().getTime();
      const live = rows.filter((r) => r.serial && r.not_after && Date.parse(r.not_after) > now);
      const key = live.map((r) => `${r.name} ${r.serial}`).sort().join('\n');
      if (key === this.pushed) return;
      const certs: Certificate[] = [];
      for (const r of live) {
        let pem = this.pems.get(r.name);
        if (pem?.serial !== r.serial) {
          const files = await readCertFiles(this.deps.config.dataDir, r.name);
          if (!files) continue;
          pem = { serial: r.serial!, ...files };
          this.pems.set(r.name, pem);
        }
        certs.push({ name: r.name, hosts: [r.hostname], certPem: pem.certPem, keyPem: pem.keyPem });
      }
      const names = new Set(live.map((r) => r.name));
      for (const name of this.pems.keys()) if (!names.has(name)) this.pems.delete(name);
      await this.router.setCertificates(certs);
      this.pushed = key;
    });
    this.pushChain = run.catch(() => {});
    return run;
  }

  /** The router answers the HTTP-01 challenges of the orders in flight. */
  private sink(): ChallengeSink {
    return {
      add: async (token, keyAuthorization) => {
        this.answers.set(token, keyAuthorization);
        await this.router.setAcmeChallenges(Object.fromEntries(this.answers));
      },
      remove: async (token) => {
        this.answers.delete(token);
        await this.router.setAcmeChallenges(Object.fromEntries(this.answers));
      },
    };
  }
}
