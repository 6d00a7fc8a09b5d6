import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Db } from '../store/db.js';
import { countUsers, createUser } from '../store/users.js';
import { hashPassword, randomPassword, SecretBox } from '../lib/crypto.js';

/**
 * The key that seals secrets at rest. BERTH_SECRET_KEY (base64, 32 bytes) wins, so a PostgreSQL-backed
 * install can move machines; otherwise it is generated once into the data directory.
 */
export function loadSecretBox(dataDir: string, secretKey: string | undefined): SecretBox {
  if (secretKey) return new SecretBox(Buffer.from(secretKey, 'base64'));
  const file = join(dataDir, 'secret.key');
  if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
  return new SecretBox(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64'));
}

/**
 * This control plane's id among those sharing a PostgreSQL database: made once and kept in the data
 * directory, so a restarted instance is the same one (listed once, and it takes back at once a lease
 * its previous life held instead of waiting for it to expire: no other process runs on this directory).
 */
export function loadControlPlaneId(dataDir: string): string {
  const file = join(dataDir, 'control-plane-id');
  if (!existsSync(file)) writeFileSync(file, `cp_${randomBytes(6).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  return readFileSync(file, 'utf8').trim();
}

/**
 * On the very first start, creates `admin`. A generated password is printed once and kept in a
 * root-only file until the admin changes it, so the set-up script can show it.
 */
export async function ensureAdmin(db: Db, dataDir: string, password: string | undefined, log: Logger) {
  if ((await countUsers(db)) > 0) return;
  const generated = !password;
  const pw = password ?? randomPassword();
  await createUser(db, { username: 'admin', passwordHash: await hashPassword(pw), isAdmin: true });
  if (generated) {
    const file = join(dataDir, 'initial-admin-password');
    writeFileSync(file, `${pw}\n`, { mode: 0o600 });
    process.stdout.write(`\nBerth created the user "admin" with the password: ${pw}\n(also in ${file} until you change it)\n\n`);
  }
  log.info({ generated }, 'created the admin user');
}
