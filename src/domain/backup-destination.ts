import { randomBytes } from 'node:crypto';
import type { SecretBox } from '../lib/crypto.js';
import type { BackupDestinationRow } from '../store/backup-destination.js';

/**
 * The off-site backup destination (docs/stateful.md, "Off-site copies"): an S3-compatible bucket
 * every add-on's backups are also copied to, encrypted on this server with a key Berth makes when
 * the destination is set (shown once). PostgreSQL add-ons use it as pgBackRest's second repository
 * (repo2, aes-256-cbc); dump backups go there through rclone's crypt remote.
 */

/** What a helper or server needs, opened: never shown by the API. */
export interface Destination {
  endpoint: string;
  host: string;
  port: number;
  bucket: string;
  region: string;
  accessKey: string;
  secretKey: string;
  key: string;
  ca: string | null;
}

export const newEncryptionKey = () => randomBytes(32).toString('base64url');
export const encryptionKeyOk = (k: string) => /^[A-Za-z0-9_-]{43}$/.test(k);

/** Endpoint: an https URL of a host (and port), no path, user, query. Returns host and port or the problem. */
export function parseEndpoint(raw: string): { host: string; port: number } | { problem: string } {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return { problem: 'is not a URL' };
  }
  if (u.protocol !== 'https:') return { problem: 'must be an https:// URL (the keys and the data travel over it)' };
  if (u.username || u.password) return { problem: 'must not carry a user or password (use access_key and secret_key)' };
  if ((u.pathname !== '/' && u.pathname !== '') || u.search || u.hash) return { problem: 'must be scheme://host[:port] only, without a path or query' };
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return { host, port: u.port ? Number(u.port) : 443 };
}

/** S3's bucket naming rules (3-63 lowercase letters, digits, dots, hyphens; starts and ends alphanumeric). */
export const bucketOk = (b: string) => /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(b) && !b.includes('..');
export const regionOk = (r: string) => /^[a-z0-9][a-z0-9-]{0,62}$/.test(r);
/** Keys as S3 services issue them: printable, no spaces or quotes (they go into a config file line). */
export const keyOk = (k: string) => /^[A-Za-z0-9+/=._~-]{1,256}$/.test(k);

export function openDestination(box: SecretBox, row: BackupDestinationRow): Destination {
  const e = parseEndpoint(row.endpoint);
  if ('problem' in e) throw new Error(`backup destination endpoint ${e.problem}`);
  return {
    endpoint: row.endpoint,
    host: e.host,
    port: e.port,
    bucket: row.bucket,
    region: row.region,
    accessKey: box.open(row.access_key_sealed),
    secretKey: box.open(row.secret_key_sealed),
    key: box.open(row.key_sealed),
    ca: row.ca_pem,
  };
}

/** Where an add-on's pgBackRest repository lives in the bucket: by the add-on's id, so a fresh Berth finds it with that id alone. */
export const addonRepoPath = (addonId: string) => `/berth/addons/${addonId}/pgbackrest`;

/**
 * pgBackRest's repo2 as environment variables (its PGBACKREST_* form of each option: no secret on a
 * command line). `repoId`: the add-on whose repository it is (a fork of a lost add-on reads the old
 * one's). The CA goes in BERTH_BACKUP_CA; the entrypoint and helpers write it to a file and point
 * repo2-storage-ca-file at it. Path-style URLs: they work with any S3-compatible server and any bucket name.
 */
export function pgbackrestEnv(d: Destination, repoId: string): Record<string, string> {
  return {
    PGBACKREST_REPO2_TYPE: 's3',
    PGBACKREST_REPO2_PATH: addonRepoPath(repoId),
    PGBACKREST_REPO2_S3_ENDPOINT: d.host,
    PGBACKREST_REPO2_STORAGE_PORT: String(d.port),
    PGBACKREST_REPO2_S3_BUCKET: d.bucket,
    PGBACKREST_REPO2_S3_REGION: d.region,
    PGBACKREST_REPO2_S3_KEY: d.accessKey,
    PGBACKREST_REPO2_S3_KEY_SECRET: d.secretKey,
    PGBACKREST_REPO2_S3_URI_STYLE: 'path',
    PGBACKREST_REPO2_CIPHER_TYPE: 'aes-256-cbc',
    PGBACKREST_REPO2_CIPHER_PASS: d.key,
    ...(d.ca ? { BERTH_BACKUP_CA: d.ca } : {}),
  };
}

/** Shell lines that give pgBackRest the destination's CA as a file (it takes no PEM in an option). */
export const CA_FILE_PRELUDE =
  'if [ -n "${BERTH_BACKUP_CA:-}" ]; then printf \'%s\\n\' "$BERTH_BACKUP_CA" >/tmp/berth-backup-ca.pem; export PGBACKREST_REPO2_STORAGE_CA_FILE=/tmp/berth-backup-ca.pem; fi';
