import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Issued certificates and keys on disk: <dataDir>/tls/certs/<name>.{crt,key}, keys mode 600. */
const certsDir = (dataDir: string) => join(dataDir, 'tls', 'certs');

/** The stable name of a host's certificate: safe as a file name and in the router's crt-list. */
export const certName = (hostname: string) => `cert-${createHash('sha256').update(hostname).digest('hex').slice(0, 24)}`;

async function put(file: string, text: string): Promise<void> {
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, text, { mode: 0o600, flag: 'wx' });
  await rename(tmp, file);
}

export async function writeCertFiles(dataDir: string, name: string, pem: { certPem: string; keyPem: string }): Promise<void> {
  const dir = certsDir(dataDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // Key, then certificate: a reader pairs them by the certificate, so it never sees a new one with an old key.
  await put(join(dir, `${name}.key`), pem.keyPem);
  await put(join(dir, `${name}.crt`), pem.certPem);
}

/** The stored pair, or null when either file is missing. */
export async function readCertFiles(dataDir: string, name: string): Promise<{ certPem: string; keyPem: string } | null> {
  const dir = certsDir(dataDir);
  try {
    const [certPem, keyPem] = await Promise.all([readFile(join(dir, `${name}.crt`), 'utf8'), readFile(join(dir, `${name}.key`), 'utf8')]);
    return { certPem, keyPem };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export async function removeCertFiles(dataDir: string, name: string): Promise<void> {
  const dir = certsDir(dataDir);
  await rm(join(dir, `${name}.crt`), { force: true });
  await rm(join(dir, `${name}.key`), { force: true });
}
