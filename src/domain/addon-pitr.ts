import type { SecretBox } from '../lib/crypto.js';
import type { AddonRow } from '../store/addons.js';
import type { ContainerSpec } from '../runtime/types.js';
import { ADDON_JOB_LABEL, ADDON_LABEL, addonArchiveVolumeName, addonHost, addonMounts, baseLabels, credentials, helperSpec } from './addons.js';
import { lastFiring } from './cron.js';
import { CHOOSE_BACKUP } from './addon-pitr-choice.js';

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
 * A restore to a point in time. $0: target time; $1: the source's host; $2: user; $3: database;
 * $4: the mode: `fork` (a new add-on's empty data volume, the source's archive), `switch` (only the
 * first step, while an add-on to be restored in place still runs) or `in-place` (the add-on's own
 * volumes, its server stopped); $5: the target in seconds since the epoch; $6: the program that
 * chooses the base backup (CHOOSE_BACKUP).
 * First the source's current WAL segment is closed and waited for in the archive, so the window
 * reaches now. In `switch` mode a source that does not answer fails the step (exit 3, nothing
 * changed): its newest WAL may not be archived, and a rewind must never go back to less than was
 * asked for. A fork goes on from what the archive holds (its source may be down) and the check
 * below decides. Then the data directory is made anew from the base backup before the target on
 * the history of the timeline being restored (named to pgBackRest: domain/addon-pitr-choice.ts), and
 * a private server (no TCP) replays WAL up to the target and PAUSES there (`--target-action=pause`):
 * PostgreSQL pauses only when it met the first commit after the target, which proves that all WAL up
 * to the target was replayed; it fails ("recovery ended before configured recovery target was
 * reached") when the archive ends first. Only then, with its log saying where it stopped, is it
 * resumed, which promotes it (a new timeline); the last transaction it replayed is the recovery
 * point. A target not reached exits 3; in place, the data set aside is first put back, so the
 * add-on is as it was, and it exits 4 (RESTORE_UNDONE). In place, the server archives as it promotes (the new timeline's history
 * must be in the add-on's archive, or a later restore would follow the old one), and the data it
 * replaces is moved to /data/pgdata.before-restore once (a marker says a retry after a crash must
 * not move the half-restored directory over it). Starting from an empty directory makes a retry
 * after a crash safe. A constant script: no user data in it.
 */
const RESTORE = [
  'set -eu',
  'BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)',
  'MODE=$4',
  'if [ "$4" != in-place ]; then',
  // A transaction committed now (txid_current() takes an id, so its commit is logged with its time):
  // recovery to a time must see a commit after it, or it fails with "recovery ended before configured
  // recovery target was reached" when nothing was written since the target (an idle database).
  // A busy engine's name service or a server in a checkpoint may miss one try: three, 2 s apart, each
  // given 10 s to connect, before the source counts as not answering.
  '  t=0',
  '  until out=$(PGCONNECT_TIMEOUT=10 psql -h "$1" -U "$2" -d "$3" -At -c "select txid_current()" -c "select pg_walfile_name(pg_switch_wal())" 2>/tmp/switch.err); do',
  '    out=""; t=$((t+1)); [ $t -lt 3 ] || break; sleep 2',
  '  done',
  '  if [ -n "$out" ]; then',
  '    seg=$(printf "%s\\n" "$out" | tail -1)',
  '    n=0',
  '    until [ -n "$(find /archive/pgbackrest/archive -name "$seg-*" | head -1)" ]; do',
  '      n=$((n+1)); [ $n -lt 1200 ] || { echo "WAL segment $seg of the source was not archived within 120 s: the archive lags, so the time asked for may not be in it" >&2; exit 3; }; sleep 0.1',
  '    done',
  '  elif [ "$4" = switch ]; then',
  '    echo "the server did not answer, so its newest WAL could not be closed and archived: $(tr "\\n" " " </tmp/switch.err)" >&2; exit 3',
  '  else',
  '    echo "the source did not answer ($(tr "\\n" " " </tmp/switch.err)); restoring from what its archive holds" >&2',
  '  fi',
  'fi',
  // A new in-place request starts here (its server still runs): a finished earlier one's record goes.
  'if [ "$4" = switch ]; then rm -f /data/.berth-restored; exit 0; fi',
  'ARCHIVE="-c archive_mode=off"',
  'if [ "$4" = in-place ]; then',
  // A retry after a crash that came once this same restore had finished (its helper ran on while
  // the control plane was down): it is done; say so again rather than set the result aside as if it
  // were the data to replace (that would delete the data from before the rewind).
  '  if [ ! -e /data/.berth-restore-under-way ] && [ -f /data/.berth-restored ] && [ "$(head -1 /data/.berth-restored)" = "$0" ]; then',
  '    sed -n 4p /data/.berth-restored >&2; sed -n 2p /data/.berth-restored >&2; sed -n 3p /data/.berth-restored; exit 0',
  '  fi',
  '  if [ ! -e /data/.berth-restore-under-way ]; then',
  // Only when there is a data directory to set aside: a retry after a crash between the move and
  // the marker must not delete what the move set aside.
  '    if [ -d /data/pgdata ]; then rm -rf /data/pgdata.before-restore; mv /data/pgdata /data/pgdata.before-restore; fi',
  '    touch /data/.berth-restore-under-way',
  '  fi',
  '  ARCHIVE="-c archive_mode=on -c archive_command=\'pgbackrest --stanza=berth archive-push %p\'"',
  'fi',
  // The target not reached: nothing is promoted; in place, the data set aside goes back (the add-on as it was).
  'notreached() {',
  '  why=$1',
  '  ! grep -q "recovery ended before configured recovery target was reached" /tmp/pg.log 2>/dev/null || why="recovery ended before it: the archive holds no WAL up to that time"',
  '  echo "the restore did not reach $0: $why" >&2',
  '  grep -E "FATAL|recovery|redo|restored log file" /tmp/pg.log 2>/dev/null | tail -8 >&2 || true',
  '  "$BIN/pg_ctl" -D /data/pgdata -m immediate -w stop >/dev/null 2>&1 || true',
  '  if [ "$MODE" = in-place ] && [ -d /data/pgdata.before-restore ]; then',
  '    rm -rf /data/pgdata && mv /data/pgdata.before-restore /data/pgdata && rm -f /data/.berth-restore-under-way',
  '    echo "nothing changed: the data it had is back in place" >&2; exit 4',
  '  fi',
  '  exit 3',
  '}',
  // The timeline to follow (domain/addon-pitr-choice.ts): in place, the one the data set aside is on
  // (its newest WAL segment's); a fork, its source's (the segment the switch closed). Else the newest
  // in the archive, as PostgreSQL would. Never simply the newest: a timeline left by a restore cut
  // short after its promotion is in the archive but serves nothing.
  'TL=""',
  'if [ "$MODE" = in-place ]; then TL=$(ls /data/pgdata.before-restore/pg_wal 2>/dev/null | grep -E "^[0-9A-F]{24}$" | sort | tail -1 | cut -c1-8)',
  'elif [ -n "${seg:-}" ]; then TL=$(printf "%s" "$seg" | cut -c1-8); fi',
  '[ -n "$TL" ] || TL=$(ls /archive/pgbackrest/archive/berth/*/ 2>/dev/null | grep -E "^[0-9A-F]{8}[.]history$" | sort | tail -1 | cut -c1-8)',
  'TLI=$((0x${TL:-1}))',
  'CHOICE=$(pgbackrest --stanza=berth --output=json info | perl -e "$6" "$5" "$TLI" /archive/pgbackrest/archive/berth) || CHOICE=""',
  '[ -n "$CHOICE" ] || notreached "no base backup lies on the history of timeline $TLI"',
  'SET=${CHOICE% *}',
  // A backup on the timeline itself is followed as `current`: that needs no history file, and a
  // fork's first timeline has none in its own archive (it was promoted with archiving off).
  'FOLLOW=$TLI; [ "${CHOICE#* }" != "$TLI" ] || FOLLOW=current',
  'echo "restoring base backup $SET, following timeline $TLI" >&2',
  'rm -rf /data/pgdata /data/run',
  'mkdir -p /data/pgdata && chmod 0700 /data/pgdata',
  'pgbackrest --stanza=berth --pg1-path=/data/pgdata --type=time "--target=$0" "--set=$SET" "--target-timeline=$FOLLOW" --target-action=pause restore',
  '"$BIN/pg_ctl" -D /data/pgdata -l /tmp/pg.log -o "-c listen_addresses=\'\' -c unix_socket_directories=/tmp -c hot_standby=on $ARCHIVE" -w -t 600 start >/dev/null || notreached "PostgreSQL stopped during recovery"',
  'n=0',
  'until [ "$(psql -h /tmp -U "$2" -d "$3" -Atc "select pg_get_wal_replay_pause_state()" 2>/dev/null)" = paused ]; do',
  '  n=$((n+1)); [ $n -lt 36000 ] || notreached "recovery did not reach it within an hour"',
  '  "$BIN/pg_ctl" -D /data/pgdata status >/dev/null || notreached "PostgreSQL stopped during recovery"',
  '  sleep 0.1',
  'done',
  // Paused: PostgreSQL met a commit after the target. Its log names it; without that line the pause is not the target's.
  'stop=$(grep -o "recovery stopping before [a-z]* of transaction [0-9]*, time .*" /tmp/pg.log | tail -1)',
  '[ -n "$stop" ] || notreached "recovery paused without stopping at the target"',
  'echo "$stop" >&2',
  'psql -h /tmp -U "$2" -d "$3" -Atc "select pg_wal_replay_resume()" >/dev/null',
  'n=0',
  'until [ "$(psql -h /tmp -U "$2" -d "$3" -Atc "select pg_is_in_recovery()" 2>/dev/null)" = f ]; do',
  '  n=$((n+1)); [ $n -lt 6000 ] || { tail -20 /tmp/pg.log >&2; exit 1; }',
  '  "$BIN/pg_ctl" -D /data/pgdata status >/dev/null || { tail -20 /tmp/pg.log >&2; exit 1; }',
  '  sleep 0.1',
  'done',
  `res=$(psql -h /tmp -U "$2" -d "$3" -Atc "select '${RESULT}' || coalesce(to_char(pg_last_xact_replay_timestamp() at time zone 'UTC', 'YYYY-MM-DD\\"T\\"HH24:MI:SS.US\\"Z\\"'), '')")`,
  'echo "$res"',
  '"$BIN/pg_ctl" -D /data/pgdata -m fast -w stop >/dev/null',
  // Done: the target, where it stopped, the result and the base backup it came from, kept until the next request's switch step.
  'if [ "$MODE" = in-place ]; then printf "%s\\n%s\\n%s\\n%s\\n" "$0" "$stop" "$res" "restoring base backup $SET, following timeline $TLI" >/data/.berth-restored.part && mv /data/.berth-restored.part /data/.berth-restored; fi',
  'rm -f /data/.berth-restore-under-way',
].join('\n');

/** The helper of a base backup of the add-on: its data and archive volumes, the server's socket in /data/run. */
export function baseBackupSpec(box: SecretBox, instanceId: string, a: AddonRow, jobId: string): ContainerSpec {
  const spec = helperSpec(box, instanceId, a, `berth-${jobId.replace('_', '-')}`, { [ADDON_JOB_LABEL]: jobId }, ['sh', '-c', BASE_BACKUP, credentials(box, a).user, String(a.pitr_days)]);
  return { ...spec, mounts: addonMounts(instanceId, a, true) };
}

/** The exit code of an in-place restore that did not reach its target and put the add-on's data back as it was. */
export const RESTORE_UNDONE = 4;

export type RestoreMode = 'fork' | 'switch' | 'in-place';

/**
 * The helper of a restore step (RESTORE): into `into` (its data volume) from `from`'s archive to
 * `target`: a fork (into is new, from its source) or in place (both the add-on itself).
 */
export function restoreSpec(box: SecretBox, instanceId: string, into: AddonRow, from: AddonRow, target: string, mode: RestoreMode, jobId: string): ContainerSpec {
  const c = credentials(box, from);
  const cmd = ['sh', '-c', RESTORE, pgTime(new Date(target)), addonHost(from), c.user, c.database, mode, String(new Date(target).getTime() / 1000), CHOOSE_BACKUP];
  const spec = helperSpec(box, instanceId, from, `berth-${jobId.replace('_', '-')}`, { [ADDON_JOB_LABEL]: jobId }, cmd);
  const archive = { volume: addonArchiveVolumeName(from), path: '/archive', labels: { ...baseLabels(instanceId, from), [ADDON_LABEL]: from.id } };
  return { ...spec, mounts: [addonMounts(instanceId, into, false)[0]!, archive] };
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
