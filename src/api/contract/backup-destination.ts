import { Type as T } from '@sinclair/typebox';
import * as S from './schemas.js';
import { closed, type RouteDef } from './route-def.js';

/** The off-site backup destination as anyone may read it: never its credentials or key. */
export const BackupDestination = T.Object({
  endpoint: T.String(),
  bucket: T.String(),
  region: T.String(),
  ca: T.Boolean({ description: "true when the endpoint is verified with its own CA instead of the system's" }),
  created_at: S.Timestamp,
  updated_at: S.Timestamp,
  encryption_key: T.Union([T.String(), T.Null()], {
    description: 'only in the answer that made the destination: the key everything copied there is encrypted with. Keep it: restoring on a fresh install needs it, and it is never shown again',
  }),
});

export const backupDestinationRoutes = {
  getBackupDestination: {
    method: 'GET',
    path: '/api/v1/cluster/backup-destination',
    summary: 'The off-site backup destination (admin); 404 when none is set',
    tag: 'cluster',
    access: 'admin',
    response: BackupDestination,
  },
  setBackupDestination: {
    method: 'PUT',
    path: '/api/v1/cluster/backup-destination',
    summary: 'Set the S3-compatible bucket add-on backups are also copied to, encrypted (admin). The first set makes the encryption key and shows it once',
    tag: 'cluster',
    access: 'admin',
    body: closed({
      endpoint: T.String({ minLength: 1, maxLength: 2048, description: 'https://host[:port] of the S3-compatible service' }),
      bucket: T.String({ minLength: 1, maxLength: 63 }),
      region: T.String({ minLength: 1, maxLength: 63 }),
      access_key: T.String({ minLength: 1, maxLength: 256 }),
      secret_key: T.String({ minLength: 1, maxLength: 256 }),
      ca: T.Optional(T.String({ minLength: 1, maxLength: 65536, description: 'PEM CA certificate(s) to verify the endpoint with' })),
      encryption_key: T.Optional(T.String({ minLength: 1, maxLength: 256, description: 'the key kept from an earlier set (a fresh installation restoring from the bucket); without it, the first set makes one' })),
    }),
    response: BackupDestination,
  },
  deleteBackupDestination: {
    method: 'DELETE',
    path: '/api/v1/cluster/backup-destination',
    summary: 'Stop copying backups off-site (admin); what is in the bucket stays',
    tag: 'cluster',
    access: 'admin',
    response: S.Ok,
  },
} satisfies Record<string, RouteDef>;
