import type { SecretBox } from '../lib/crypto.js';
import type { AddonRow } from '../store/addons.js';
import type { ContainerSpec } from '../runtime/types.js';
import { ADDON_JOB_LABEL, ADDON_LABEL, addonArchiveVolumeName, baseLabels, credentials } from './addons.js';

/**
 * Restores verified automatically (docs/stateful.md): a backup of an add-on is restored into a
 * throwaway container of the add-on's image (no network, limited memory, removed afterwards) and
 * asked a question; the answer, or why there was none, is kept on the backup.
 */

/** What a PostgreSQL backup is asked when its owner set nothing: how many user tables it holds. */
export const DEFAULT_VERIFY_QUERY = "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')";
export const VERIFY_QUERY_MAX = 2000;
/** The query's own time limit inside the throwaway server. */
export const VERIFY_STATEMENT_TIMEOUT_S = 30;
/** The line the helper prints its answer on (base64, so rows and odd bytes survive the log). */
const RESULT = 'berth-verify=';
/** The answer kept: its first characters. */
const ANSWER_MAX = 2000;

/**
 * Why `q` cannot be a verification query, or null. One statement (a `;` only at its end, outside
 * quotes and comments), that reads: it starts with SELECT, WITH, VALUES, TABLE or SHOW (the check
 * also runs it in a READ ONLY transaction, so a WITH ... DELETE fails there), and no psql
 * meta-command (a backslash outside quotes).
 */
export function verifyQueryProblem(q: string): string | null {
  if (!q.trim()) return 'the query is empty';
  if (q.length > VERIFY_QUERY_MAX) return `the query is longer than ${VERIFY_QUERY_MAX} characters`;
  if (/[\u0000]/.test(q)) return 'the query holds a NUL character';
  const bare = stripLiterals(q);
  if (bare === null) return 'the query has an unterminated quote, dollar quote or comment';
  if (bare.includes('\\')) return 'the query holds a backslash outside quotes (psql meta-commands are not allowed)';
  const body = bare.trim().replace(/;\s*$/, '');
  if (body.includes(';')) return 'the query must be one statement (a ";" may only end it)';
  if (!/^\(*\s*(select|with|values|table|show)\b/i.test(body)) return 'the query must read only: start it with SELECT, WITH, VALUES, TABLE or SHOW';
  return null;
}

/** The query with string literals, quoted names, dollar-quoted bodies and comments blanked; null when one is not closed. */
function stripLiterals(q: string): string | null {
  let out = '';
  let i = 0;
  while (i < q.length) {
    const c = q[i]!;
    const two = q.slice(i, i + 2);
    let end: number;
    if (two === '--') end = (q.indexOf('\n', i) + 1 || q.length + 1) - 1;
    else if (two === '/*') end = q.indexOf('*/', i + 2) < 0 ? -1 : q.indexOf('*/', i + 2) + 2;
    else if (c === "'" || c === '"') end = closeQuote(q, i, c);
    else if (c === '$') {
      const tag = /^\$[A-Za-z_]?[A-Za-z0-9_]*\$/.exec(q.slice(i))?.[0];
      if (!tag) {
        out += c;
        i++;
        continue;
      }
      const close = q.indexOf(tag, i + tag.length);
      end = close < 0 ? -1 : close + tag.length;
    } else {
      out += c;
      i++;
      continue;
    }
    if (end < 0) return null;
    out += ' ';
    i = end;
  }
  return out;
}

/** The index after the quote closing the one at `i` (a doubled quote is part of the text); -1 if none. */
function closeQuote(q: string, i: number, quote: string): number {
  let j = i + 1;
  for (;;) {
    const k = q.indexOf(quote, j);
    if (k < 0) return -1;
    if (q[k + 1] === quote) j = k + 2;
    else return k + 1;
  }
}

/**
 * PostgreSQL: a private server in /tmp (no TCP, fsync off: it is thrown away) made for the add-on's
 * user and database, the dump ($0) restored with pg_restore stopping at the first error, then the
 * query ($3) run by psql in a READ ONLY transaction with a statement timeout; its rows printed as
 * base64 on the result line. $1 user, $2 database. A constant script: the query is an argument.
 */
// Both PostgreSQL checks: the newest server's binaries, and a failure that quotes the server's log.
const PG_PRELUDE = [
  'set -eu',
  'BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)',
  'fail() { echo "$1" >&2; [ -f /tmp/pg.log ] && tail -5 /tmp/pg.log >&2; exit 1; }',
];

/**
 * Both PostgreSQL checks end alike: the query run read-only with a statement timeout, its rows
 * printed as base64 on the result line, the server stopped. Arguments are the script's positional
 * parameters ("$1"), so nothing from the add-on is written into the script.
 */
function answerAndStop(user: string, db: string, query: string): string[] {
  return [
    `PGOPTIONS="-c statement_timeout=${VERIFY_STATEMENT_TIMEOUT_S}s -c default_transaction_read_only=on" psql -X -q -At -v ON_ERROR_STOP=1 -h /tmp -U ${user} -d ${db} -c "BEGIN TRANSACTION READ ONLY" -c ${query} -c ROLLBACK >/tmp/answer 2>/tmp/query.err || { tail -5 /tmp/query.err >&2; exit 3; }`,
    `printf '${RESULT}%s\\n' "$(head -c ${ANSWER_MAX} /tmp/answer | base64 -w0)"`,
    '"$BIN/pg_ctl" -D "$PGDATA" -m immediate -w stop >/dev/null 2>&1 || true',
  ];
}

const PG_VERIFY = [
  ...PG_PRELUDE,
  'export PGDATA=/tmp/berth-verify-data',
  '"$BIN/initdb" -D "$PGDATA" -U "$1" --auth=trust -E UTF8 --locale=C.UTF-8 >/tmp/initdb.log 2>&1 || { tail -5 /tmp/initdb.log >&2; fail "initdb failed"; }',
  '"$BIN/pg_ctl" -D "$PGDATA" -l /tmp/pg.log -o "-c listen_addresses=\'\' -c unix_socket_directories=/tmp -c fsync=off -c full_page_writes=off" -w -t 120 start >/dev/null || fail "PostgreSQL did not start"',
  '"$BIN/createdb" -h /tmp -U "$1" "$2" || fail "createdb failed"',
  'pg_restore --no-owner --no-privileges --exit-on-error -h /tmp -U "$1" -d "$2" "$0" 2>/tmp/restore.err || { tail -5 /tmp/restore.err >&2; exit 2; }',
  ...answerAndStop('"$1"', '"$2"', '"$3"'),
].join('\n');


/**
 * A pgBackRest base backup: restored from the add-on's archive (mounted; the restore only reads it)
 * into /tmp to its consistency point (`--type=immediate`, the WAL it needs fetched from the same
 * archive), a private server (no TCP, no archiving: it must never write to the archive) started
 * with only local trust, promoted, then the query ($2) as for a dump. $0 user, $1 database.
 * PGBACKREST_PG1_PATH (in the environment, so the server's archive-get gets it too) points
 * pgBackRest at the throwaway data directory instead of the add-on's.
 */
const PG_BASE_VERIFY = [
  ...PG_PRELUDE,
  'export PGDATA="$PGBACKREST_PG1_PATH"',
  'mkdir -p "$PGDATA" && chmod 0700 "$PGDATA"',
  'pgbackrest --stanza=berth --type=immediate --target-action=promote restore >/tmp/restore.err 2>&1 || { tail -5 /tmp/restore.err >&2; exit 2; }',
  'echo "local all all trust" >"$PGDATA/pg_hba.conf"',
  '"$BIN/pg_ctl" -D "$PGDATA" -l /tmp/pg.log -o "-c listen_addresses=\'\' -c unix_socket_directories=/tmp -c archive_mode=off -c fsync=off" -w -t 300 start >/dev/null || fail "PostgreSQL did not start from the base backup"',
  'n=0',
  'until [ "$(psql -X -h /tmp -U "$0" -d "$1" -Atc "select pg_is_in_recovery()" 2>/dev/null)" = f ]; do',
  '  n=$((n+1)); [ $n -lt 3000 ] || fail "PostgreSQL did not finish recovery within 300 s"',
  '  "$BIN/pg_ctl" -D "$PGDATA" status >/dev/null || fail "PostgreSQL stopped during recovery"',
  '  sleep 0.1',
  'done',
  ...answerAndStop('"$0"', '"$1"', '"$2"'),
].join('\n');

/**
 * Redis: a private server (no TCP) loads the snapshot ($0) as its dump.rdb; DBSIZE is the answer.
 * A snapshot it cannot load makes it exit: its last log lines say why.
 */
const REDIS_VERIFY = [
  'set -eu',
  'D=/tmp/berth-verify-data; S=/tmp/berth-verify.sock',
  'mkdir -p "$D" && cp "$0" "$D/dump.rdb"',
  'redis-server --dir "$D" --dbfilename dump.rdb --appendonly no --save "" --port 0 --unixsocket "$S" --logfile /tmp/redis.log &',
  'pid=$!',
  'n=0',
  'until [ "$(redis-cli -s "$S" ping 2>/dev/null)" = PONG ]; do',
  '  kill -0 $pid 2>/dev/null || { echo "redis-server could not load the snapshot" >&2; tail -5 /tmp/redis.log >&2; exit 2; }',
  '  n=$((n+1)); [ $n -lt 3000 ] || { echo "redis-server did not answer within 300 s" >&2; exit 1; }',
  '  sleep 0.1',
  'done',
  `printf '${RESULT}%s\\n' "$(redis-cli -s "$S" dbsize | head -c ${ANSWER_MAX} | base64 -w0)"`,
  'redis-cli -s "$S" shutdown nosave >/dev/null 2>&1 || true',
].join('\n');

/**
 * The throwaway container of a base backup's check: as verifySpec, with the add-on's archive volume
 * at /archive (the one volume it sees; the add-on's data volume is not mounted).
 */
export function baseVerifySpec(box: SecretBox, instanceId: string, a: AddonRow, jobId: string): ContainerSpec {
  const c = credentials(box, a);
  const spec = verifySpec(box, instanceId, a, jobId, '');
  const archive = { volume: addonArchiveVolumeName(a), path: '/archive', labels: { ...baseLabels(instanceId, a), [ADDON_LABEL]: a.id } };
  return { ...spec, cmd: ['sh', '-c', PG_BASE_VERIFY, c.user, c.database, a.verify_query ?? DEFAULT_VERIFY_QUERY], env: { PGBACKREST_PG1_PATH: '/tmp/berth-verify-data' }, mounts: [archive] };
}

/** Label of a verification's throwaway container (the backup id). */
export const VERIFY_LABEL = 'berth.addon-verify';

/** Where the helper finds the backup file (copied in before it starts). */
export const verifyFileInside = (ext: string) => `/tmp/berth-backup-to-verify.${ext}`;

/**
 * The throwaway container of a verification: the add-on's image, as its non-root user, no network
 * at all, 256 MB, never restarted; labelled as a job helper, so a start after a crash removes one
 * left behind. The add-on's user and database names are used (the dump's objects name them), never
 * its password: the private server trusts its own socket.
 */
export function verifySpec(box: SecretBox, instanceId: string, a: AddonRow, jobId: string, file: string): ContainerSpec {
  const c = credentials(box, a);
  const cmd = a.type === 'postgres' ? ['sh', '-c', PG_VERIFY, file, c.user, c.database, a.verify_query ?? DEFAULT_VERIFY_QUERY] : ['sh', '-c', REDIS_VERIFY, file];
  return {
    name: `berth-verify-${jobId.replace('_', '-')}`,
    image: a.image,
    cmd,
    env: {},
    labels: { ...baseLabels(instanceId, a), [ADDON_JOB_LABEL]: jobId, [VERIFY_LABEL]: jobId },
    network: 'none',
    aliases: [],
    memoryMb: 256,
    cpu: 0,
    pidsLimit: 128,
    restart: 'no',
  };
}

/** The answer a verification helper printed (its last result line, decoded), or null. */
export function verifyAnswer(lines: string[]): string | null {
  const l = [...lines].reverse().find((x) => x.startsWith(RESULT));
  return l === undefined ? null : Buffer.from(l.slice(RESULT.length).trim(), 'base64').toString('utf8').trimEnd();
}

/** The failure in words, from the helper's exit code and its last lines. */
export function verifyFailure(type: AddonRow['type'], code: number, lines: string[], base = false): string {
  const tail = lines.filter((l) => !l.startsWith(RESULT)).slice(-6).join('\n').trim();
  const what =
    code === 137 ? 'the throwaway container was killed (out of its 256 MB?)'
    : type === 'redis' ? 'the snapshot did not load'
    : code === 2 ? `${base ? 'pgbackrest' : 'pg_restore'} could not restore the backup`
    : code === 3 ? 'the restored database did not answer the query'
    : 'PostgreSQL did not start from the backup';
  return `${what}${tail ? `: ${tail}` : ''}`;
}
