import { PostgresAdapter, sql } from 'kysely';
import type { Db } from './db.js';
import type { LogLinesTable } from './schema.js';

export type StoredLine = Omit<LogLinesTable, 'id'>;
export type LogLineRow = StoredLine & { id: number };

/** Rows per INSERT: under SQLite's 32766 bound variables and PostgreSQL's 65535 (9 columns each). */
const ROWS_PER_INSERT = 500;

/** Writes lines and moves the containers' cursors, in one transaction: a crash keeps both or neither. */
export async function insertLogLines(db: Db, lines: StoredLine[], cursors: { docker_id: string; app_id: string; last: string }[]): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  await db.transaction().execute(async (tx) => {
    if (postgres && lines.length) {
      // One statement of nine arrays: PostgreSQL plans it once whatever the batch (measured about
      // 2.5x the lines/s of 500-row VALUES statements here: 24-26k against 9k).
      const col = <K extends keyof StoredLine>(k: K) => lines.map((l) => l[k]);
      await sql`insert into log_lines (app_id, time, stream, process_type, replica, release, container, line, bytes)
        select * from unnest(${col('app_id')}::text[], ${col('time')}::text[], ${col('stream')}::text[], ${col('process_type')}::text[],
          ${col('replica')}::int[], ${col('release')}::int[], ${col('container')}::text[], ${col('line')}::text[], ${col('bytes')}::int[])`.execute(tx);
    } else {
      for (let i = 0; i < lines.length; i += ROWS_PER_INSERT) {
        await tx.insertInto('log_lines').values(lines.slice(i, i + ROWS_PER_INSERT)).execute();
      }
    }
    for (const c of cursors) {
      await tx
        .insertInto('log_cursors')
        .values(c)
        .onConflict((oc) => oc.column('docker_id').doUpdateSet({ last: c.last }))
        .execute();
    }
  });
}

/** The newest stored time per container (timeKey), for the containers asked about. */
export async function logCursors(db: Db, dockerIds: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (let i = 0; i < dockerIds.length; i += 500) {
    const rows = await db.selectFrom('log_cursors').select(['docker_id', 'last']).where('docker_id', 'in', dockerIds.slice(i, i + 500)).execute();
    for (const r of rows) out.set(r.docker_id, r.last);
  }
  return out;
}

export interface LogFilter {
  /** timeKey bounds: since inclusive, until exclusive. */
  since?: string;
  until?: string;
  /** Plain text, matched case-insensitively anywhere in the line. */
  grep?: string;
  type?: string;
  replica?: number;
  /** Only lines older than this one (a page's cursor). */
  before?: { time: string; id: number };
  limit: number;
}

/** `%`, `_` and the escape itself are literal in a user's search: LIKE sees only text. */
const likeText = (s: string) => `%${s.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/**
 * The newest `limit` lines matching, newest first (the caller turns them over). The app and time
 * bounds ride the (app_id, time, id) index; the other filters are checked on the rows in range.
 */
export async function queryLogLines(db: Db, appId: string, f: LogFilter): Promise<LogLineRow[]> {
  let q = db.selectFrom('log_lines').selectAll().where('app_id', '=', appId);
  if (f.since) q = q.where('time', '>=', f.since);
  if (f.until) q = q.where('time', '<', f.until);
  if (f.type) q = q.where('process_type', '=', f.type);
  if (f.replica !== undefined) q = q.where('replica', '=', f.replica);
  if (f.grep) {
    // SQLite folds only ASCII capitals; a search with other letters folds both sides in JS there
    // (slower, so only then). PostgreSQL's lower() folds as its database's locale (LC_CTYPE) does.
    const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
    q = !postgres && /[^\x00-\x7f]/.test(f.grep)
      ? q.where(sql<boolean>`instr(berth_fold(line), ${f.grep.toLowerCase()}) > 0`)
      : q.where(sql<boolean>`lower(line) like ${likeText(f.grep)} escape '\\'`);
  }
  if (f.before) {
    const b = f.before;
    q = q.where((eb) => eb.or([eb('time', '<', b.time), eb.and([eb('time', '=', b.time), eb('id', '<', b.id)])]));
  }
  const rows = await q.orderBy('time', 'desc').orderBy('id', 'desc').limit(f.limit).execute();
  return rows.map((r) => ({ ...r, id: Number(r.id) }));
}

/** Per app: bytes and lines kept. */
export async function logUsage(db: Db): Promise<{ app_id: string; bytes: number; lines: number }[]> {
  const rows = await db
    .selectFrom('log_lines')
    .select(['app_id', (eb) => eb.fn.sum<number>('bytes').as('bytes'), (eb) => eb.fn.countAll<number>().as('lines')])
    .groupBy('app_id')
    .execute();
  return rows.map((r) => ({ app_id: r.app_id, bytes: Number(r.bytes), lines: Number(r.lines) }));
}

/**
 * Rows one retention DELETE removes at most: one statement over millions of rows held SQLite's
 * write lock (every other write waited) and made PostgreSQL one long transaction (found by review).
 */
export const PRUNE_BATCH = 5000;

/** One app's bytes kept (an index range read of that app's rows, not the whole table). */
export async function appLogBytes(db: Db, appId: string): Promise<number> {
  const r = await db.selectFrom('log_lines').select((eb) => eb.fn.sum<number>('bytes').as('bytes')).where('app_id', '=', appId).executeTakeFirst();
  return Number(r?.bytes ?? 0);
}

/** Removes lines older than `before` (timeKey; null: all), of one app or of all, PRUNE_BATCH per statement; how many went. */
export async function pruneOlderThan(db: Db, before: string | null, appId?: string): Promise<number> {
  let gone = 0;
  for (;;) {
    let ids = db.selectFrom('log_lines').select('id');
    if (before !== null) ids = ids.where('time', '<', before);
    if (appId) ids = ids.where('app_id', '=', appId);
    const r = await db.deleteFrom('log_lines').where('id', 'in', ids.limit(PRUNE_BATCH)).executeTakeFirst();
    const n = Number(r.numDeletedRows);
    gone += n;
    if (n < PRUNE_BATCH) return gone;
  }
}

/** Which of these apps exist. */
export const liveApps = async (db: Db, appIds: string[]): Promise<Set<string>> =>
  appIds.length ? new Set((await db.selectFrom('apps').select('id').where('id', 'in', appIds).execute()).map((r) => r.id)) : new Set();

/** Removes the lines of apps that no longer exist, among these; how many went. */
export async function pruneDeletedApps(db: Db, appIds: string[]): Promise<number> {
  if (!appIds.length) return 0;
  const live = new Set((await db.selectFrom('apps').select('id').where('id', 'in', appIds).execute()).map((r) => r.id));
  const gone = appIds.filter((id) => !live.has(id));
  if (!gone.length) return 0;
  let n = 0;
  for (const id of gone) n += await pruneOlderThan(db, null, id);
  return n;
}

/** Apps with retention of their own. */
export const appRetention = (db: Db) =>
  db
    .selectFrom('apps')
    .select(['id', 'log_retention_days', 'log_retention_mb'])
    .where((eb) => eb.or([eb('log_retention_days', 'is not', null), eb('log_retention_mb', 'is not', null)]))
    .execute();

/**
 * Removes an app's oldest lines until at most `keepBytes` remain: the newest lines are summed
 * going back in time, and everything before the line that crosses the limit goes.
 */
export async function pruneToSize(db: Db, appId: string, keepBytes: number): Promise<number> {
  return (await pruneToSizeKept(db, appId, keepBytes)).gone;
}

/** pruneToSize, also saying how many bytes the app keeps after it. */
export async function pruneToSizeKept(db: Db, appId: string, keepBytes: number): Promise<{ gone: number; kept: number }> {
  let kept = 0;
  let cut: { time: string; id: number } | null = null;
  let after: { time: string; id: number } | null = null;
  // Walks newest to oldest in pages, so a large app is never read whole into memory.
  for (;;) {
    let q = db.selectFrom('log_lines').select(['id', 'time', 'bytes']).where('app_id', '=', appId);
    if (after) {
      const a = after;
      q = q.where((eb) => eb.or([eb('time', '<', a.time), eb.and([eb('time', '=', a.time), eb('id', '<', a.id)])]));
    }
    const page = await q.orderBy('time', 'desc').orderBy('id', 'desc').limit(5000).execute();
    if (!page.length) return { gone: 0, kept };
    for (const r of page) {
      if (kept + Number(r.bytes) > keepBytes) {
        cut = { time: r.time, id: Number(r.id) };
        break;
      }
      kept += Number(r.bytes);
    }
    if (cut) break;
    const last = page[page.length - 1];
    after = { time: last.time, id: Number(last.id) };
  }
  const c = cut;
  let gone = 0;
  for (;;) {
    const ids = db
      .selectFrom('log_lines')
      .select('id')
      .where('app_id', '=', appId)
      .where((eb) => eb.or([eb('time', '<', c.time), eb.and([eb('time', '=', c.time), eb('id', '<=', c.id)])]))
      .limit(PRUNE_BATCH);
    const n = Number((await db.deleteFrom('log_lines').where('id', 'in', ids).executeTakeFirst()).numDeletedRows);
    gone += n;
    if (n < PRUNE_BATCH) return { gone, kept };
  }
}

/** Cursors of containers that no longer exist as rows: their logs are complete. */
export async function forgetCursors(db: Db, keepDockerIds: string[]): Promise<void> {
  const keep = new Set(keepDockerIds);
  const all = await db.selectFrom('log_cursors').select('docker_id').execute();
  const gone = all.map((r) => r.docker_id).filter((id) => !keep.has(id));
  for (let i = 0; i < gone.length; i += 500) await db.deleteFrom('log_cursors').where('docker_id', 'in', gone.slice(i, i + 500)).execute();
}

/** Every container with an engine id, and the release version it runs: what the collector follows. */
export const loggedContainers = (db: Db) =>
  db
    .selectFrom('containers')
    .innerJoin('releases', 'releases.id', 'containers.release_id')
    .innerJoin('apps', 'apps.id', 'containers.app_id')
    .select([
      'apps.slug',
      'containers.address',
      'containers.port',
      'containers.id',
      'containers.app_id',
      'containers.docker_id',
      'containers.name',
      'containers.process_type',
      'containers.replica',
      'containers.status',
      'containers.created_at',
      'releases.version',
    ])
    .where('containers.docker_id', 'is not', null)
    .execute();
