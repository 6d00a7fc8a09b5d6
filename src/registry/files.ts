import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SecretBox } from '../lib/crypto.js';
import { randomPassword } from '../lib/crypto.js';
import { runOk } from '../lib/exec.js';

/** The files of the registry under <dataDir>/registry (mode 700): nothing here is for anyone but Berth. */
export const registryFiles = (dir: string) => ({
  config: join(dir, 'config.yml'),
  /** The same registry, read-only: what runs while `garbage-collect` frees blobs. */
  readonlyConfig: join(dir, 'config-readonly.yml'),
  htpasswd: join(dir, 'htpasswd'),
  credentials: join(dir, 'credentials.sealed'),
  cert: join(dir, 'tls.crt'),
  key: join(dir, 'tls.key'),
  storage: join(dir, 'storage'),
  pid: join(dir, 'registry.pid'),
  log: join(dir, 'registry.log'),
  /** Written before manifests are deleted, removed once their blobs are freed: a crash in between collects on the next pass. */
  gcPending: join(dir, 'gc-pending'),
});
export type RegistryFiles = ReturnType<typeof registryFiles>;

export const USERNAME = 'berth';

export interface Credentials {
  username: string;
  password: string;
  /** Distribution's http.secret (signs upload state); stable, so a restart does not void uploads under way. */
  secret: string;
}

/** Writes by rename, mode 600: a reader never sees half a file. */
export async function putPrivate(file: string, text: string): Promise<void> {
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, text, { mode: 0o600, flag: 'wx' });
  await rename(tmp, file);
}

async function readOrNull(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * The registry's one account: generated the first time, kept sealed with Berth's secret key (as
 * secret config vars are), its bcrypt hash in the htpasswd file Distribution reads. htpasswd
 * (apache2-utils) makes the hash, the password on its stdin, never in an argument.
 */
export async function ensureCredentials(files: RegistryFiles, box: SecretBox): Promise<Credentials> {
  const sealed = await readOrNull(files.credentials);
  let creds: Credentials;
  if (sealed) creds = JSON.parse(box.open(sealed.trim())) as Credentials;
  else {
    creds = { username: USERNAME, password: randomPassword() + randomPassword(), secret: randomBytes(32).toString('base64url') };
    await putPrivate(files.credentials, `${box.seal(JSON.stringify(creds))}\n`);
  }
  if ((await readOrNull(files.htpasswd)) === null) {
    const res = await runOk('htpasswd', ['-niB', '-C', '10', creds.username], { timeoutMs: 30_000, input: `${creds.password}\n` });
    await putPrivate(files.htpasswd, `${res.stdout.trim()}\n`);
  }
  return creds;
}

/** Distribution's configuration (JSON is YAML): TLS, htpasswd auth, deletes allowed, storage under the data directory. */
export function configText(files: RegistryFiles, opts: { host: string; port: number; secret: string; readonly: boolean }): string {
  const config = {
    version: '0.1',
    // Every request would be a line at info; the log is for failures.
    log: { level: 'warn', formatter: 'text', accesslog: { disabled: true } },
    storage: {
      filesystem: { rootdirectory: files.storage },
      // The manifest DELETE garbage collection starts with.
      delete: { enabled: true },
      maintenance: { readonly: { enabled: opts.readonly } },
    },
    http: {
      // On the advertised address only when it is one of ours; a name: every interface.
      addr: `${isIP(opts.host) ? opts.host : ''}:${opts.port}`,
      secret: opts.secret,
      tls: { certificate: files.cert, key: files.key },
      headers: { 'X-Content-Type-Options': ['nosniff'] },
    },
    auth: { htpasswd: { realm: 'berth-registry', path: files.htpasswd } },
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

/** Writes the file when its text differs; says whether it did (a running registry must restart to read it). */
export async function writeIfChanged(file: string, text: string): Promise<boolean> {
  if ((await readOrNull(file)) === text) return false;
  await putPrivate(file, text);
  return true;
}

export const ensureDir = (dir: string) => mkdir(dir, { recursive: true, mode: 0o700 });
export { readOrNull };
