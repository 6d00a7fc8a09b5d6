import { X509Certificate as NodeX509, createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';

type X509 = typeof import('@peculiar/x509');
let x509: Promise<X509> | undefined;
/**
 * @peculiar/x509 (~16 MB resident) is loaded when a certificate is made, not at start: reading the
 * CA back and checking signatures need only node:crypto, so a control plane with every certificate
 * issued never holds it.
 */
function certificateMaker(): Promise<X509> {
  x509 ??= import('@peculiar/x509').then((m) => {
    m.cryptoProvider.set(webcrypto as unknown as Crypto);
    return m;
  });
  return x509;
}

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY = 24 * 60 * 60 * 1000;
/** Clocks of clients differ a little; a certificate valid from "now" would be refused by one running behind. */
const BACKDATE = 60 * 60 * 1000;

export const LEAF_VALIDITY_DAYS = 90;
const CA_VALIDITY_DAYS = 3650;

/** Berth's own certificate authority: one per data directory. */
export interface Ca {
  certPem: string;
  keyPem: string;
  /** SHA-256 of the certificate (DER), colon-separated hex, as browsers show it. */
  fingerprint: string;
  notAfter: Date;
  /** The signing key, imported once. */
  key: CryptoKey;
}

export interface Leaf {
  /** The leaf only: the root signs it directly, and clients must hold the root already to trust it. */
  certPem: string;
  keyPem: string;
  notAfter: Date;
  serial: string;
}

export const caDir = (dataDir: string) => join(dataDir, 'tls');

async function exportKey(key: CryptoKey): Promise<string> {
  return (await certificateMaker()).PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

/** A positive 128-bit serial (RFC 5280 wants unique, unpredictable, at most 20 bytes). */
const serial = () => {
  const b = randomBytes(16);
  b[0] &= 0x7f;
  return b.toString('hex');
};

/** Writes by rename, so a reader never sees half a file; mode 600 because the key signs for every private name. */
async function writePrivate(file: string, text: string): Promise<void> {
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, text, { mode: 0o600, flag: 'wx' });
  await rename(tmp, file);
}

async function load(certPem: string, keyPem: string): Promise<Ca> {
  const cert = new NodeX509(certPem);
  const der = createPrivateKey(keyPem).export({ format: 'der', type: 'pkcs8' });
  const key = await webcrypto.subtle.importKey('pkcs8', der, EC, false, ['sign']);
  // fingerprint256 is already colon-separated upper-case hex of the DER's SHA-256.
  return { certPem, keyPem, fingerprint: cert.fingerprint256, notAfter: new Date(cert.validTo), key: key as CryptoKey };
}

async function create(now: Date): Promise<{ certPem: string; keyPem: string }> {
  const x509 = await certificateMaker();
  const keys = (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    // A random suffix tells two installations' roots apart in a trust store.
    name: `CN=Berth CA ${randomBytes(4).toString('hex')}, O=Berth`,
    notBefore: new Date(now.getTime() - BACKDATE),
    notAfter: new Date(now.getTime() + CA_VALIDITY_DAYS * DAY),
    signingAlgorithm: SIGN,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await exportKey(keys.privateKey) + '\n' };
}

const cache = new Map<string, Promise<Ca>>();

/**
 * Berth's CA for this data directory: read from <dataDir>/tls/ca.{crt,key}, created there (mode 600)
 * the first time. Kept in memory afterwards; the files are the only copy, so back them up with the data dir.
 */
export function ensureCa(dataDir: string, now = new Date()): Promise<Ca> {
  const dir = caDir(dataDir);
  let p = cache.get(dir);
  if (!p) {
    p = (async () => {
      const certFile = join(dir, 'ca.crt');
      const keyFile = join(dir, 'ca.key');
      try {
        return await load(await readFile(certFile, 'utf8'), await readFile(keyFile, 'utf8'));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const made = await create(now);
      // Key first: a crash in between leaves no certificate without its key.
      await writePrivate(keyFile, made.keyPem);
      await writePrivate(certFile, made.certPem);
      return load(made.certPem, made.keyPem);
    })();
    cache.set(dir, p);
    p.catch(() => cache.delete(dir));
  }
  return p;
}

/** A leaf certificate for these hostnames or IP addresses (first one is the subject), signed by the CA, valid 90 days. */
export async function issueLeaf(ca: Ca, hosts: string[], opts: { now?: Date; days?: number } = {}): Promise<Leaf> {
  if (hosts.length === 0) throw new Error('a certificate needs at least one hostname');
  const now = opts.now ?? new Date();
  const x509 = await certificateMaker();
  const caCert = new x509.X509Certificate(ca.certPem);
  const keys = (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as CryptoKeyPair;
  const sn = serial();
  const notAfter = new Date(now.getTime() + (opts.days ?? LEAF_VALIDITY_DAYS) * DAY);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: sn,
    // The CN is informative only (clients match the SANs) and limited to 64 characters.
    subject: hosts[0].length <= 64 ? `CN=${hosts[0]}` : 'O=Berth',
    issuer: caCert.subject,
    notBefore: new Date(now.getTime() - BACKDATE),
    notAfter,
    signingAlgorithm: SIGN,
    signingKey: ca.key,
    publicKey: keys.publicKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      // An IP address is an IP SAN: clients such as Docker's (Go) match an address only against those.
      new x509.SubjectAlternativeNameExtension(hosts.map((value) => ({ type: isIP(value) ? ('ip' as const) : ('dns' as const), value }))),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await exportKey(keys.privateKey) + '\n', notAfter, serial: sn };
}

/** Whether certPem (its first certificate) was signed by this CA: a leaf from a lost, replaced CA is not. */
export function signedBy(ca: Ca, certPem: string): boolean {
  try {
    return new NodeX509(certPem).verify(new NodeX509(ca.certPem).publicKey);
  } catch {
    return false;
  }
}
