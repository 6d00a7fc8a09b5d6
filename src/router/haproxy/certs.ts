import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runOk } from '../../lib/exec.js';
import type { Certificate } from '../types.js';
import { files, pathOf } from './config.js';
import { writeAtomic } from './files.js';
import type { RouterState } from './state.js';

export type DefaultCertSource = () => Promise<{ certPem: string; keyPem: string }>;

export interface CertSteps {
  /** path -> content, written before any command. */
  files: Record<string, string>;
  commands: { command: string; ok?: RegExp; payload?: string }[];
  /** Files of certificates no longer served, removed after the commands. */
  obsolete: string[];
}

/**
 * The runtime commands that make HAProxy serve exactly `certs` (validated), and the matching change
 * of `s.certs`: new ones are created, filled, committed and added to the crt-list; changed ones are
 * replaced with set/commit (no handshake sees a half-updated certificate); removed ones leave the
 * crt-list, then the store.
 */
export function certsDiff(s: RouterState, certs: Certificate[], dir: string): CertSteps {
  const list = pathOf(dir, 'crtList');
  const file = (name: string) => join(dir, files.certs, `${name}.pem`);
  const steps: CertSteps = { files: {}, commands: [], obsolete: [] };
  const have = new Map(s.certs.map((c) => [c.name, c]));
  const next: RouterState['certs'] = [];
  for (const c of certs) {
    const pem = c.certPem + c.keyPem;
    const digest = createHash('sha256').update(pem).digest('hex');
    const old = have.get(c.name);
    have.delete(c.name);
    next.push({ name: c.name, hosts: c.hosts, digest });
    const f = file(c.name);
    const entry = `${f} ${c.hosts.join(' ')}`;
    if (old && old.digest === digest && old.hosts.join(' ') === c.hosts.join(' ')) continue;
    steps.files[f] = pem;
    if (!old) steps.commands.push({ command: `new ssl cert ${f}`, ok: /New empty certificate store/ });
    if (!old || old.digest !== digest) {
      steps.commands.push({ command: `set ssl cert ${f}`, ok: /Transaction (created|updated)/, payload: pem });
      steps.commands.push({ command: `commit ssl cert ${f}`, ok: /Success!/ });
    }
    if (old && old.hosts.join(' ') !== c.hosts.join(' ')) steps.commands.push({ command: `del ssl crt-list ${list} ${f}`, ok: /deleted|Success/ });
    if (!old || old.hosts.join(' ') !== c.hosts.join(' ')) steps.commands.push({ command: `add ssl crt-list ${list}`, ok: /Success!/, payload: `${entry}\n` });
  }
  for (const gone of have.values()) {
    const f = file(gone.name);
    steps.commands.push({ command: `del ssl crt-list ${list} ${f}`, ok: /deleted|Success/ });
    steps.commands.push({ command: `del ssl cert ${f}`, ok: /deleted|Success/ });
    steps.obsolete.push(f);
  }
  s.certs = next;
  return steps;
}

/** The certificate every name gets when it has none of its own: from `source`, else self-signed by openssl. */
export async function ensureDefaultCert(path: string, source?: DefaultCertSource): Promise<void> {
  if (existsSync(path)) return;
  if (source) {
    const { certPem, keyPem } = await source();
    writeAtomic(path, certPem + keyPem);
    return;
  }
  const tmp = mkdtempSync(join(tmpdir(), 'berth-cert-'));
  try {
    await runOk(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(tmp, 'k.pem'), '-out', join(tmp, 'c.pem'), '-days', '3650',
        '-subj', '/CN=berth-default', '-addext', 'subjectAltName=DNS:localhost,DNS:*.localhost'],
      { timeoutMs: 30_000 },
    );
    writeAtomic(path, readFileSync(join(tmp, 'c.pem'), 'utf8') + readFileSync(join(tmp, 'k.pem'), 'utf8'));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
