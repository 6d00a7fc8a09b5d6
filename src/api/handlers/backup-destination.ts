import type { Handlers } from '../register.js';
import { badRequest, forbidden, notFound } from '../errors.js';
import type { AuthUser } from '../context.js';
import * as store from '../../store/backup-destination.js';
import type { BackupDestinationRow } from '../../store/backup-destination.js';
import { checkHost, checkResolved } from '../../lib/egress.js';
import { bucketOk, encryptionKeyOk, keyOk, newEncryptionKey, parseEndpoint, regionOk } from '../../domain/backup-destination.js';
import { caProblem } from '../../domain/drains.js';

/** Never the credentials or the key: those are sealed and given only to the helpers and servers that copy. */
const dto = (d: BackupDestinationRow, key: string | null = null) => ({
  endpoint: d.endpoint,
  bucket: d.bucket,
  region: d.region,
  ca: d.ca_pem !== null,
  created_at: d.created_at,
  updated_at: d.updated_at,
  encryption_key: key,
});

export function requireAdmin(user: AuthUser) {
  if (!user.is_admin) throw forbidden('only an admin can manage the backup destination');
}

export const backupDestinationHandlers = {
  async getBackupDestination({ user }, ctx) {
    requireAdmin(user);
    const d = await store.backupDestination(ctx.db);
    if (!d) throw notFound('backup destination');
    return dto(d);
  },

  async setBackupDestination({ user, body }, ctx) {
    requireAdmin(user);
    const e = parseEndpoint(body.endpoint);
    if ('problem' in e) throw badRequest(`endpoint ${e.problem}`, 'endpoint');
    checkHost(e.host, 'endpoint', ctx.config.egressAllow);
    // The name's addresses now; pgBackRest and rclone resolve it again when they connect (docs/security.md).
    await checkResolved(e.host, 'endpoint', ctx.config.egressAllow);
    if (!bucketOk(body.bucket)) throw badRequest('bucket must be 3-63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit', 'bucket');
    if (!regionOk(body.region)) throw badRequest('region must be lowercase letters, digits and hyphens (us-east-1)', 'region');
    if (!keyOk(body.access_key)) throw badRequest('access_key has characters an S3 key does not', 'access_key');
    if (!keyOk(body.secret_key)) throw badRequest('secret_key has characters an S3 key does not', 'secret_key');
    if (body.ca !== undefined) {
      const problem = caProblem(body.ca);
      if (problem) throw badRequest(`ca ${problem}`, 'ca');
    }
    if (body.encryption_key !== undefined && !encryptionKeyOk(body.encryption_key)) throw badRequest('encryption_key is not a key Berth made (43 letters, digits, - and _)', 'encryption_key');
    const existing = await store.backupDestination(ctx.db);
    // Shown only when made here: a key given was kept by the admin already.
    const key = body.encryption_key === undefined && !existing ? newEncryptionKey() : null;
    const keySealed = body.encryption_key !== undefined ? ctx.secrets.seal(body.encryption_key) : key !== null ? ctx.secrets.seal(key) : existing!.key_sealed;
    await store.saveBackupDestination(ctx.db, {
      endpoint: `https://${e.host.includes(':') ? `[${e.host}]` : e.host}${e.port === 443 ? '' : `:${e.port}`}`,
      bucket: body.bucket,
      region: body.region,
      access_key_sealed: ctx.secrets.seal(body.access_key),
      secret_key_sealed: ctx.secrets.seal(body.secret_key),
      key_sealed: keySealed,
      ca_pem: body.ca ?? null,
    });
    return dto((await store.backupDestination(ctx.db))!, key);
  },

  async deleteBackupDestination({ user }, ctx) {
    requireAdmin(user);
    await store.deleteBackupDestination(ctx.db);
    return { ok: true };
  },
} satisfies Handlers;
