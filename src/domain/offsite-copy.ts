import type { Destination } from './backup-destination.js';

/**
 * Copies of backup files at the off-site destination, with rclone (Debian's `rclone`): an `s3`
 * remote for the bucket and a `crypt` remote over it (file contents and names encrypted, NaCl
 * secretbox, scrypt-derived keys from Berth's key), all given in rclone's RCLONE_CONFIG_* variables
 * so no config file holds the secrets. An operator restores by hand with the same two remotes
 * (docs/stateful.md, "Off-site copies").
 */

/** The crypt remote's root in the bucket; pgBackRest's repositories are beside it (berth/addons/<id>/pgbackrest). */
export const FILES_ROOT = 'berth/files';

/** The object a backup file is copied to, under the crypt remote (its name is encrypted in the bucket). */
export const offsitePath = (kind: 'addon' | 'volume', ownerId: string, backupId: string, ext: string) => `berthcrypt:${kind}s/${ownerId}/${backupId}.${ext}`;

/** rclone's environment: the two remotes. `obscured`: Berth's key as `rclone obscure` gives it (crypt takes no plain password). */
export function rcloneEnv(d: Destination, obscured: string): Record<string, string> {
  return {
    RCLONE_CONFIG_BERTHS3_TYPE: 's3',
    RCLONE_CONFIG_BERTHS3_PROVIDER: 'Other',
    RCLONE_CONFIG_BERTHS3_ENDPOINT: d.endpoint,
    RCLONE_CONFIG_BERTHS3_REGION: d.region,
    RCLONE_CONFIG_BERTHS3_ACCESS_KEY_ID: d.accessKey,
    RCLONE_CONFIG_BERTHS3_SECRET_ACCESS_KEY: d.secretKey,
    RCLONE_CONFIG_BERTHS3_FORCE_PATH_STYLE: 'true',
    RCLONE_CONFIG_BERTHCRYPT_TYPE: 'crypt',
    RCLONE_CONFIG_BERTHCRYPT_REMOTE: `berths3:${d.bucket}/${FILES_ROOT}`,
    RCLONE_CONFIG_BERTHCRYPT_PASSWORD: obscured,
    RCLONE_CONFIG_BERTHCRYPT_FILENAME_ENCRYPTION: 'standard',
  };
}
