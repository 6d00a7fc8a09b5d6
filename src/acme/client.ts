import { createHash, X509Certificate } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { Agent as HttpAgent } from 'node:http';
import { Agent } from 'node:https';
import { guardedLookup, type EgressAllow } from '../lib/egress.js';
import { join } from 'node:path';
import type { Client } from 'acme-client';

type Acme = typeof import('acme-client');
/**
 * acme-client (with axios and its own X.509 code, ~25 MB resident) is loaded at the first order:
 * a control plane without an ACME account, or with every certificate current, never holds it.
 */
const loadAcme = async (): Promise<Acme> => {
  // A CommonJS package: its module.exports is the namespace's default.
  const m = (await import('acme-client')) as Acme & { default?: Acme };
  return m.default ?? m;
};

/** Where the HTTP-01 answers go while an order is validated (the router serves them). */
export interface ChallengeSink {
  add(token: string, keyAuthorization: string): Promise<void>;
  remove(token: string): Promise<void>;
}

export interface Issued {
  /** Leaf first, then the chain the CA sent. */
  certPem: string;
  keyPem: string;
  notAfter: Date;
}

/** The one thing Berth asks of an ACME CA: a certificate for these names, proven by HTTP-01. */
export interface AcmeIssuer {
  issue(hosts: string[], sink: ChallengeSink): Promise<Issued>;
}

export interface AcmeOptions {
  directoryUrl: string;
  email: string;
  /** The account key is kept here (acme/, mode 600), one per directory URL. */
  dataDir: string;
  /** PEM file of CAs trusted for the ACME server's own HTTPS (a test CA such as pebble's). */
  caFile?: string;
  /** The egress rule: every connection to the ACME server is checked on its resolved address. */
  egress?: EgressAllow;
  /** Limit for one whole order (account, authorizations, validation, download). */
  timeoutMs?: number;
}

/** HTTP-01 issuance with `acme-client` (RFC 8555). */
export class AcmeClient implements AcmeIssuer {
  private client?: Promise<Client>;

  constructor(private readonly opts: AcmeOptions) {}

  private async accountKey(acme: Acme): Promise<string> {
    const dir = join(this.opts.dataDir, 'acme');
    const file = join(dir, `account-${createHash('sha256').update(this.opts.directoryUrl).digest('hex').slice(0, 16)}.key`);
    try {
      return await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const key = (await acme.crypto.createPrivateEcdsaKey('P-256')).toString();
    await writeFile(`${file}.tmp`, key, { mode: 0o600 });
    await rename(`${file}.tmp`, file);
    return key;
  }

  private connect(): Promise<Client> {
    this.client ??= (async () => {
      const acme = await loadAcme();
      // acme-client has one shared axios instance: one ACME server (and its trust) per process.
      acme.axios.defaults.timeout = 30_000;
      const lookup = this.opts.egress ? guardedLookup('ROUTER_ACME_DIRECTORY', this.opts.egress) : undefined;
      const ca = this.opts.caFile ? await readFile(this.opts.caFile, 'utf8') : undefined;
      acme.axios.defaults.httpsAgent = new Agent({ ca, lookup });
      acme.axios.defaults.httpAgent = new HttpAgent({ lookup });
      // A redirect would be a request to a place the rule did not see named.
      acme.axios.defaults.maxRedirects = 0;
      return new acme.Client({ directoryUrl: this.opts.directoryUrl, accountKey: await this.accountKey(acme) });
    })();
    this.client.catch(() => (this.client = undefined));
    return this.client;
  }

  async issue(hosts: string[], sink: ChallengeSink): Promise<Issued> {
    const client = await this.connect();
    const acme = await loadAcme();
    const [key, csr] = await acme.crypto.createCsr({ commonName: hosts[0], altNames: hosts }, await acme.crypto.createPrivateEcdsaKey('P-256'));
    const order = client.auto({
      csr,
      email: this.opts.email,
      termsOfServiceAgreed: true,
      challengePriority: ['http-01'],
      // acme-client's own pre-check fetches http://<host>/ on port 80 from here; the CA's validation is the real test.
      skipChallengeVerification: true,
      challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
        if (challenge.type !== 'http-01') throw new Error(`unsupported challenge ${challenge.type}`);
        await sink.add(challenge.token, keyAuthorization);
      },
      challengeRemoveFn: async (_authz, challenge) => {
        await sink.remove(challenge.token);
      },
    });
    const limit = this.opts.timeoutMs ?? 5 * 60_000;
    let timer: NodeJS.Timeout | undefined;
    const certPem = await Promise.race([
      order,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the ACME order did not complete within ${limit / 1000} s`)), limit);
      }),
    ]).finally(() => clearTimeout(timer));
    return { certPem, keyPem: key.toString(), notAfter: new Date(new X509Certificate(certPem).validTo) };
  }
}
