import type { SecretBox } from '../lib/crypto.js';
import type { AddonRow } from '../store/addons.js';
import type { ContainerSpec } from '../runtime/types.js';
import { ADDON_JOB_LABEL, ADDON_LABEL, addonArchiveVolumeName, addonHost, addonMounts, baseLabels, credentials, helperSpec } from './addons.js';
import { lastFiring } from './cron.js';

/**
 * Point-in-time recovery of PostgreSQL add-ons with pgBackRest (docs/stateful.md): the add-on's
 * server archives WAL into its archive volume (scripts/addons/postgres-entrypoint.sh); helpers of
 * its image take base backups (with both volumes, reaching the server by the socket in /data/run)
 * and restore a fork (its own empty data volume, the source's archive volume).
 */

/** Base backups when no schedule is set: one a day, so that the window's WAL is replayed from a recent one. */
export const DEFAULT_BASE_EVERY_MS = 24 * 3600_000;
/** The line a helper prints to hand its result back (read from its log). */
const RESULT = 'berth-result=';

/**
 * A base backup, then pgBackRest's expiry (time-based: the oldest full backup kept is the newest
 * one older than the window, so the window stays whole), then the repository's summary as JSON on
 * one line. $0: the database user; $1: the window in days. A constant script: no user data in it.
 */
const BASE_BACKUP = [
  'set -e',
  'pgbackrest --stanza=berth "--pg1-user=$0" --repo1-retention-full-type=time "--repo1-retention-full=$1" --type=full backup',
  `printf '${RESULT}%s\\n' "$(pgbackrest --stanza=berth --output=json info)"`,
].join('\n');

/**
 * A fork's restore. The source's current WAL segment is closed and waited for in the archive (so the
 * window reaches now), the fork's data directory is made anew from the base backup before the
 * target, and a private server (no TCP, no archiving) replays WAL up to the target and promotes;
 * the last transaction it replayed is the recovery point. Starting from an empty directory makes a
 * retry after a crash safe. $0: target time; $1: the source's host; $2: user; $3: database.
 */
const FORK_RESTORE = [
  'set -eu',
  'BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)',
  'if seg=$(psql -h "$1" -U "$2" -d "$3" -Atc "select pg_walfile_name(pg_switch_wal())" 2>/tmp/switch.err); then',
  '  n=0',
  '  until [ -n "$(find /archive/pgbackrest/archive -name "$seg-*" | head -1)" ]; do',
  '    n=$((n+1)); [ $n -lt 1200 ] || { echo "WAL segment $seg of the source was not archived within 120 s" >&2; exit 1; }; sleep 0.1',
  '  done',
  'else',
  '  echo "the source did not answer ($(cat /tmp/switch.err)); restoring from what its archive holds" >&2',
  'fi',
  'rm -rf /data/pgdata /data/run',
  'mkdir -p /data/pgdata && chmod 0700 /data/pgdata',
  'pgbackrest --stanza=berth --pg1-path=/data/pgdata --type=time "--target=$0" --target-action=promote restore',
  '"$BIN/pg_ctl" -D /data/pgdata -l /tmp/pg.log -o "-c listen_addresses=\'\' -c unix_socket_directories=/tmp -c archive_mode=off" -w -t 600 start >/dev/null || { tail -20 /tmp/pg.log >&2; exit 1; }',
  'n=0',
  'until [ "$(psql -h /tmp -U "$2" -d "$3" -Atc "select pg_is_in_recovery()" 2>/dev/null)" = f ]; do',
  '  n=$((n+1)); [ $n -lt 6000 ] || { tail -20 /tmp/pg.log >&2; exit 1; }',
  '  "$BIN/pg_ctl" -D /data/pgdata status >/dev/null || { tail -20 /tmp/pg.log >&2; exit 1; }',
  '  sleep 0.1',
  'done',
  `psql -h /tmp -U "$2" -d "$3" -Atc "select '${RESULT}' || coalesce(to_char(pg_last_xact_replay_timestamp() at time zone 'UTC', 'YYYY-MM-DD\\"T\\"HH24:MI:SS.US\\"Z\\"'), '')"`,
  '"$BIN/pg_ctl" -D /data/pgdata -m fast -w stop >/dev/null',
].join('\n');

/** The helper of a base backup of the add-on: its data and archive volumes, the server's socket in /data/run. */
export function baseBackupSpec(box: SecretBox, instanceId: string, a: AddonRow, jobId: string): ContainerSpec {
  const spec = helperSpec(box, instanceId, a, `berth-${jobId.replace('_', '-')}`, { [ADDON_JOB_LABEL]: jobId }, ['sh', '-c', BASE_BACKUP, credentials(box, a).user, String(a.pitr_days)]);
  return { ...spec, mounts: addonMounts(instanceId, a, true) };
}

/** The helper that restores `fork` (its data volume) from `source`'s archive to the fork's target time. */
export function forkRestoreSpec(box: SecretBox, instanceId: string, fork: AddonRow, source: AddonRow, jobId: string): ContainerSpec {
  const c = credentials(box, source);
  const target = pgTime(new Date(fork.fork_target!));
  const spec = helperSpec(box, instanceId, source, `berth-${jobId.replace('_', '-')}`, { [ADDON_JOB_LABEL]: jobId }, ['sh', '-c', FORK_RESTORE, target, addonHost(source), c.user, c.database]);
  const archive = { volume: addonArchiveVolumeName(source), path: '/archive', labels: { ...baseLabels(instanceId, source), [ADDON_LABEL]: source.id } };
  return { ...spec, mounts: [addonMounts(instanceId, fork, false)[0]!, archive] };
}

/** A time as PostgreSQL's recovery_target_time takes it, in UTC to the microsecond. */
export const pgTime = (d: Date) => `${d.toISOString().replace('T', ' ').replace('Z', '')}+00`;

/** The result a helper printed (its last `berth-result=` line), or null. */
export function helperResult(lines: string[]): string | null {
  const l = [...lines].reverse().find((x) => x.startsWith(RESULT));
  return l === undefined ? null : l.slice(RESULT.length).trim();
}

/** The start of the window from `pgbackrest info --output=json`: the end of the oldest backup kept. */
export function windowStart(infoJson: string): string | null {
  const info = JSON.parse(infoJson) as { backup?: { timestamp?: { stop?: number } }[] }[];
  const stops = (info[0]?.backup ?? []).map((b) => b.timestamp?.stop).filter((s): s is number => typeof s === 'number');
  return stops.length ? new Date(Math.min(...stops) * 1000).toISOString() : null;
}

/**
 * Whether a base backup of the add-on is due at `at`: none yet, or its backup schedule fired since
 * the newest one (or, with no schedule, that one is a day old).
 */
export function baseBackupDue(a: Pick<AddonRow, 'pitr_base_at' | 'backup_schedule'>, at: Date): boolean {
  if (!a.pitr_base_at) return true;
  const last = new Date(a.pitr_base_at);
  if (a.backup_schedule) return lastFiring(a.backup_schedule, at) > last;
  return at.getTime() - last.getTime() >= DEFAULT_BASE_EVERY_MS;
}

/**
 * A restore target as a user writes it: `YYYY-MM-DD HH:MM:SS` (or with `T`), optional fraction of a
 * second, optional `Z` or `±HH:MM`; without an offset, UTC (like every time Berth shows). null: not such a time.
 */
export function parseTarget(text: string): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?(Z|[+-]\d{2}:?\d{2})?$/.exec(text.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac = '', zone = 'Z'] = m;
  const offset = zone === 'Z' ? 'Z' : zone.includes(':') ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const date = new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}${frac.slice(0, 4)}${offset}`);
  if (Number.isNaN(date.getTime())) return null;
  // Date rolls 2026-02-30 over to March: a day or hour that does not exist is refused instead.
  const local = new Date(Date.UTC(+y!, +mo! - 1, +d!, +h!, +mi!, +s!));
  if (local.getUTCMonth() !== +mo! - 1 || local.getUTCDate() !== +d! || local.getUTCHours() !== +h! || +mi! > 59 || +s! > 59) return null;
  return date;
}
