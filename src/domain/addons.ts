import type { SecretBox } from '../lib/crypto.js';
import { openCredentials, type AddonCredentials, type AddonRow } from '../store/addons.js';
import type { AddonType } from '../store/schema.js';
import type { ContainerSpec } from '../runtime/types.js';
import { LABEL } from '../runtime/labels.js';
import { projectNetwork } from './containers.js';

export type { AddonCredentials };

/** Per type: its port, URL scheme and the default config var prefix of an attachment. */
export const ADDON_TYPES: Record<AddonType, { port: number; scheme: string; as: string }> = {
  postgres: { port: 5432, scheme: 'postgres', as: 'DATABASE' },
  redis: { port: 6379, scheme: 'redis', as: 'REDIS' },
};

/** Label of an add-on's container and volume (the add-on id), and of its backup helpers (the job id). */
export const ADDON_LABEL = 'berth.addon';
export const ADDON_JOB_LABEL = 'berth.addon-job';
/** Label of a PostgreSQL add-on's server made with its archive volume (WAL archiving on); older ones lack it. */
export const ADDON_ARCHIVE_LABEL = 'berth.addon-archive';
/** Label of the helper container of a psql or redis-cli session (the session id). */
export const ADDON_SESSION_LABEL = 'berth.addon-session';

const slugId = (id: string) => id.replace('_', '-');
/** Where the Redis add-on keeps its snapshot and append-only files in its volume (see scripts/addons/redis-entrypoint.sh). */
const REDIS_DIR = '/data/redis';
/**
 * A Redis restore, run offline (the add-on's server is stopped) in a helper with its volume: the
 * snapshot ($0) becomes dump.rdb, a private server (no TCP) loads it and rewrites the append-only
 * files from it, since the add-on's server starts from those. A constant script: no user data in it.
 */
const REDIS_RESTORE = [
  'set -e',
  `D=${REDIS_DIR}`,
  'rm -rf "$D/appendonlydir" "$D/appendonly.aof"',
  'cp "$0" "$D/dump.rdb"',
  'S=/tmp/berth-restore.sock',
  'redis-server --dir "$D" --dbfilename dump.rdb --appendonly no --save "" --port 0 --unixsocket "$S" --daemonize yes',
  'until redis-cli -s "$S" ping 2>/dev/null | grep -q PONG; do sleep 0.1; done',
  'redis-cli -s "$S" config set appendonly yes >/dev/null',
  'until redis-cli -s "$S" info persistence | grep -q "aof_rewrite_in_progress:0" && redis-cli -s "$S" info persistence | grep -q "aof_rewrite_scheduled:0" && ls "$D"/appendonlydir/*.manifest >/dev/null 2>&1; do sleep 0.1; done',
  'redis-cli -s "$S" shutdown nosave',
].join('\n');
export const addonContainerName = (a: Pick<AddonRow, 'id'>) => `berth-${slugId(a.id)}`;
export const addonVolumeName = (a: Pick<AddonRow, 'id'>) => `berth-${slugId(a.id)}-data`;
/** A PostgreSQL add-on's pgBackRest repository (base backups and archived WAL), mounted at /archive. */
export const addonArchiveVolumeName = (a: Pick<AddonRow, 'id'>) => `berth-${slugId(a.id)}-archive`;
/** The add-on's host name on its project's network. */
export const addonHost = (a: Pick<AddonRow, 'name'>) => a.name;

export const credentials = (box: SecretBox, a: Pick<AddonRow, 'credentials'>): AddonCredentials => openCredentials(box, a.credentials);

/** The URL an attached app gets (`DATABASE_URL`, `REDIS_URL`): reachable from the project's network only. */
export function addonUrl(box: SecretBox, a: AddonRow): string {
  const c = credentials(box, a);
  const t = ADDON_TYPES[a.type];
  const pw = encodeURIComponent(c.password);
  return a.type === 'postgres'
    ? `${t.scheme}://${encodeURIComponent(c.user)}:${pw}@${addonHost(a)}:${t.port}/${encodeURIComponent(c.database)}`
    : `${t.scheme}://:${pw}@${addonHost(a)}:${t.port}`;
}

export const baseLabels = (instanceId: string, a: Pick<AddonRow, 'project_id'>) => ({ [LABEL.instance]: instanceId, [LABEL.project]: a.project_id });

/** The add-on's server: hardened like a replica (non-root, no capabilities, limits), its data in its own volume. */
export function addonSpec(box: SecretBox, instanceId: string, a: AddonRow): ContainerSpec {
  const c = credentials(box, a);
  return {
    name: addonContainerName(a),
    image: a.image,
    env: { BERTH_ADDON_USER: c.user, BERTH_ADDON_PASSWORD: c.password, BERTH_ADDON_DB: c.database },
    labels: { ...baseLabels(instanceId, a), [ADDON_LABEL]: a.id, ...(a.type === 'postgres' ? { [ADDON_ARCHIVE_LABEL]: '1' } : {}) },
    network: projectNetwork(a.project_id),
    aliases: [addonHost(a)],
    memoryMb: 512,
    cpu: 0,
    mounts: addonMounts(instanceId, a, a.type === 'postgres'),
  };
}

/** The add-on's data volume at /data and, with `archive`, its archive volume at /archive (the entrypoint then archives WAL there). */
export function addonMounts(instanceId: string, a: AddonRow, archive: boolean) {
  const labels = { ...baseLabels(instanceId, a), [ADDON_LABEL]: a.id };
  return [{ volume: addonVolumeName(a), path: '/data', labels }, ...(archive ? [{ volume: addonArchiveVolumeName(a), path: '/archive', labels }] : [])];
}

/**
 * A helper container of an add-on: its own image (the client tools match the server), on the
 * project network, run as the image's non-root user, never restarted. The credentials go in the
 * environment (PGPASSWORD, REDISCLI_AUTH), never in the command line.
 */
export function helperSpec(box: SecretBox, instanceId: string, a: AddonRow, name: string, labels: Record<string, string>, cmd: string[]): ContainerSpec {
  const c = credentials(box, a);
  return {
    name,
    image: a.image,
    cmd,
    env: { PGPASSWORD: c.password, REDISCLI_AUTH: c.password },
    labels: { ...baseLabels(instanceId, a), ...labels },
    network: projectNetwork(a.project_id),
    aliases: [],
    memoryMb: 512,
    cpu: 0,
    restart: 'no',
  };
}

/** A helper container of a backup or restore job (no volume, except for a Redis restore, run offline). */
export function jobSpec(box: SecretBox, instanceId: string, a: AddonRow, jobId: string, file: string, restore: boolean): ContainerSpec {
  const c = credentials(box, a);
  const host = addonHost(a);
  const cmd =
    a.type === 'postgres'
      ? restore
        ? ['pg_restore', '--clean', '--if-exists', '--no-owner', '--single-transaction', '-h', host, '-U', c.user, '-d', c.database, file]
        : ['pg_dump', '-Fc', '-h', host, '-U', c.user, '-d', c.database, '-f', file]
      : restore
        ? ['sh', '-c', REDIS_RESTORE, file]
        : ['redis-cli', '-h', host, '--no-auth-warning', '--rdb', file];
  const spec = helperSpec(box, instanceId, a, `berth-${slugId(jobId)}`, { [ADDON_JOB_LABEL]: jobId }, cmd);
  const offline = a.type === 'redis' && restore;
  return offline ? { ...spec, mounts: [{ volume: addonVolumeName(a), path: '/data', labels: { ...baseLabels(instanceId, a), [ADDON_LABEL]: a.id } }] } : spec;
}

/** The client of each add-on type (`berth addons psql`, `berth addons redis-cli`). */
export const ADDON_CLIENTS = { psql: 'postgres', 'redis-cli': 'redis' } as const satisfies Record<string, AddonType>;
export type AddonClient = keyof typeof ADDON_CLIENTS;

/**
 * The helper container of a `psql` or `redis-cli` session: connected to the add-on with its own
 * credentials (by environment), the user's arguments after Berth's. A session without a terminal
 * gets its stdin as a pipe, and psql stops at the first failing statement there (a script's exit
 * code tells).
 */
export function sessionSpec(box: SecretBox, instanceId: string, a: AddonRow, sessionId: string, args: string[], tty: boolean): ContainerSpec {
  const c = credentials(box, a);
  const host = addonHost(a);
  const cmd =
    a.type === 'postgres'
      ? ['psql', '-h', host, '-U', c.user, '-d', c.database, ...(tty ? [] : ['-v', 'ON_ERROR_STOP=1']), ...args]
      : ['redis-cli', '-h', host, ...args];
  const spec = helperSpec(box, instanceId, a, `berth-${slugId(sessionId)}`, { [ADDON_SESSION_LABEL]: sessionId }, cmd);
  return { ...spec, env: { ...spec.env, PGAPPNAME: 'berth-psql' }, memoryMb: 256, tty, stdin: !tty };
}

/** The extension of an add-on's backup files: pg_dump's custom format, or a Redis RDB snapshot. */
export const addonBackupExt = (type: AddonType) => (type === 'postgres' ? 'dump' : 'rdb');

/** The major version an add-on runs: the configured version whose image it was made with (null: an image set by hand that is none of them). */
export const addonVersion = (images: { versions: Record<string, string> }, image: string): string | null =>
  Object.entries(images.versions).find(([, i]) => i === image)?.[0] ?? null;
