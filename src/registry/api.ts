import { request } from 'node:https';

/** Manifest kinds Docker 20.10 pushes (and what a pulled multi-arch image may be); a HEAD must accept them to see the stored digest. */
const MANIFEST_TYPES = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
].join(', ');

const PAGE = 1000;
const REPO = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const REFERENCE = /^(?:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|sha256:[a-f0-9]{64})$/;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Distribution's HTTP API (v2) over TLS, trusting Berth's CA only, with the registry's account. */
export class RegistryApi {
  constructor(
    private readonly address: string,
    private readonly caPem: string,
    private readonly auth: { username: string; password: string } | null,
    private readonly timeoutMs = 15_000,
  ) {}

  /** Whether it answers over TLS with a certificate from Berth's CA (401 without credentials is an answer). */
  async answers(): Promise<boolean> {
    try {
      const res = await this.call('GET', '/v2/', { anonymous: true });
      return res.status === 401 || res.status === 200;
    } catch {
      return false;
    }
  }

  /** Every repository, a page at a time (Distribution answers at most 1000 per request). */
  async repositories(): Promise<string[]> {
    const out: string[] = [];
    for (let last = ''; ; ) {
      const res = await this.ok('GET', `/v2/_catalog?n=${PAGE}${last ? `&last=${encodeURIComponent(last)}` : ''}`);
      const page = (JSON.parse(res.body) as { repositories?: string[] | null }).repositories ?? [];
      out.push(...page.filter((r) => REPO.test(r)));
      if (page.length < PAGE || !res.headers.link) return out;
      last = page.at(-1)!;
    }
  }

  /** Tags of a repository (none when it does not exist). */
  async tags(repo: string): Promise<string[]> {
    const res = await this.call('GET', `/v2/${check(repo, REPO)}/tags/list`);
    if (res.status === 404) return [];
    expect(res, 200);
    return (JSON.parse(res.body) as { tags?: string[] | null }).tags ?? [];
  }

  /** The digest a tag points to, or null when the registry has no such manifest. */
  async digest(repo: string, reference: string): Promise<string | null> {
    const res = await this.call('HEAD', `/v2/${check(repo, REPO)}/manifests/${check(reference, REFERENCE)}`, { accept: MANIFEST_TYPES });
    if (res.status === 404) return null;
    expect(res, 200);
    const d = res.headers['docker-content-digest'];
    return typeof d === 'string' ? d : null;
  }

  /** Deletes a manifest by digest; Distribution drops the tags that point to it too. Gone already is fine. */
  async deleteManifest(repo: string, digest: string): Promise<void> {
    const res = await this.call('DELETE', `/v2/${check(repo, REPO)}/manifests/${check(digest, REFERENCE)}`);
    if (res.status !== 404) expect(res, 202);
  }

  private async ok(method: string, path: string): Promise<Answer> {
    const res = await this.call(method, path);
    expect(res, 200);
    return res;
  }

  private call(method: string, path: string, opts: { anonymous?: boolean; accept?: string } = {}): Promise<Answer> {
    const [host, port] = splitAddress(this.address);
    const headers: Record<string, string> = {};
    if (opts.accept) headers.accept = opts.accept;
    if (this.auth && !opts.anonymous) headers.authorization = `Basic ${Buffer.from(`${this.auth.username}:${this.auth.password}`).toString('base64')}`;
    return new Promise((resolve, reject) => {
      const req = request(
        { host, port, method, path, headers, ca: this.caPem, servername: isIpLike(host) ? undefined : host, signal: AbortSignal.timeout(this.timeoutMs) },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            if (body.length < 4 * 1024 * 1024) body += c;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end();
    });
  }
}

function expect(res: Answer, status: number): void {
  if (res.status !== status) throw new Error(`registry answered ${res.status}: ${res.body.slice(0, 300).trim()}`);
}

function check(value: string, re: RegExp): string {
  if (!re.test(value)) throw new Error(`not a valid registry name or reference: ${JSON.stringify(value)}`);
  return value;
}

const isIpLike = (host: string) => /^[0-9.]+$/.test(host);

export function splitAddress(address: string): [string, number] {
  const i = address.lastIndexOf(':');
  return [address.slice(0, i), Number(address.slice(i + 1))];
}
