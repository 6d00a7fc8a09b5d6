import { sql, type Selectable } from 'kysely';
import type { Db } from './db.js';
import type { MetricSamplesTable } from './schema.js';

export type MetricRow = Selectable<MetricSamplesTable>;

const COUNTS = ['span_s', 'requests', 'r2xx', 'r3xx', 'r4xx', 'r5xx', 'restarts'] as const;
const GAUGES = ['response_ms', 'p50_ms', 'p95_ms', 'p99_ms', 'sessions', 'cpu_percent', 'memory_mb'] as const;
/** Gauges a rollup keeps the highest of: percentiles do not average. */
const PERCENTILES: ReadonlySet<string> = new Set(['p50_ms', 'p95_ms', 'p99_ms']);

/** Writes buckets; a bucket written again (a rollup redone, a sample after a restart) is replaced. */
export async function upsertSamples(db: Db, rows: MetricRow[]): Promise<void> {
  // Several hundred rows per statement stay under SQLite's 32,766 bound parameters.
  for (let i = 0; i < rows.length; i += 500) {
    await db
      .insertInto('metric_samples')
      .values(rows.slice(i, i + 500))
      .onConflict((oc) =>
        oc.columns(['app_id', 'res', 't', 'replica']).doUpdateSet((eb) => Object.fromEntries([...COUNTS, ...GAUGES].map((c) => [c, eb.ref(`excluded.${c}`)]))),
      )
      .execute();
  }
}

/** One app's buckets of one resolution with from <= t < to, by time. */
export const samplesOf = (db: Db, appId: string, res: number, from: number, to: number): Promise<MetricRow[]> =>
  db
    .selectFrom('metric_samples')
    .selectAll()
    .where('app_id', '=', appId)
    .where('res', '=', res)
    .where('t', '>=', from)
    .where('t', '<', to)
    .orderBy('t')
    .execute();

/** Every app's buckets of one resolution with from <= t < to (the Prometheus view: its last minute). */
export const samplesSince = (db: Db, res: number, from: number, to: number, appIds?: string[]): Promise<MetricRow[]> => {
  let q = db.selectFrom('metric_samples').selectAll().where('res', '=', res).where('t', '>=', from).where('t', '<', to);
  if (appIds) q = q.where('app_id', 'in', appIds.length ? appIds : ['']);
  return q.orderBy('app_id').orderBy('t').execute();
};

/**
 * Rolls the buckets of resolution `fine` with from <= t < to up into buckets of `coarse` seconds, in
 * the database (replacing any already there), by the rules of domain/metrics.ts aggregate(): counts
 * add up, gauges average over the rows that have them, percentiles keep the highest. No row leaves
 * the database: an hour of 100 apps' 10 s buckets read into the process was 108,000 row objects,
 * garbage that grew the heap by tens of MB which V8 then kept at idle (docs/performance.md).
 */
export async function rollUpSamples(db: Db, fine: number, coarse: number, from: number, to: number): Promise<void> {
  if (!Number.isInteger(coarse) || coarse <= 0) throw new Error(`coarse must be a positive integer: ${coarse}`);
  const t = sql`t - t % ${sql.lit(coarse)}`;
  const cols = [...COUNTS, ...GAUGES];
  const of = (c: (typeof cols)[number]) => sql`${sql.raw((COUNTS as readonly string[]).includes(c) ? 'sum' : PERCENTILES.has(c) ? 'max' : 'avg')}(${sql.ref(c)})`;
  await sql`insert into metric_samples (app_id, res, t, replica, ${sql.join(cols.map((c) => sql.ref(c)))})
    select app_id, ${sql.lit(coarse)}, ${t}, replica, ${sql.join(cols.map(of))}
    from metric_samples where res = ${fine} and t >= ${from} and t < ${to}
    group by app_id, replica, ${t}
    on conflict (app_id, res, t, replica) do update set ${sql.join(cols.map((c) => sql`${sql.ref(c)} = excluded.${sql.ref(c)}`))}`.execute(db);
}

/** The newest bucket of this resolution, of any app (null: none). */
export async function newestSample(db: Db, res: number): Promise<number | null> {
  const r = await db.selectFrom('metric_samples').select((eb) => eb.fn.max('t').as('t')).where('res', '=', res).executeTakeFirst();
  return r?.t === null || r?.t === undefined ? null : Number(r.t);
}

/** Drops buckets of this resolution older than `before`; returns how many went. */
export async function pruneSamples(db: Db, res: number, before: number): Promise<number> {
  const r = await db.deleteFrom('metric_samples').where('res', '=', res).where('t', '<', before).executeTakeFirst();
  return Number(r.numDeletedRows);
}

/** Apps that exist now: samples are written only for them (a deleted app's rows go with it). */
export const sampledApps = (db: Db) =>
  db.selectFrom('apps').innerJoin('projects', 'projects.id', 'apps.project_id').select(['apps.id', 'apps.slug', 'apps.project_id', 'projects.name as project']).execute();

/** When an app's releases were made, for deploy markers. */
export const releaseTimes = (db: Db, appId: string, from: string, to: string) =>
  db
    .selectFrom('releases')
    .select(['version', 'created_at', 'status'])
    .where('app_id', '=', appId)
    .where('created_at', '>=', from)
    .where('created_at', '<', to)
    .orderBy('version')
    .execute();

/** Apps in the projects this user is a member of, with their project's name. */
export const appsVisibleTo = (db: Db, userId: string) =>
  db
    .selectFrom('apps')
    .innerJoin('projects', 'projects.id', 'apps.project_id')
    .innerJoin('project_members as m', (j) => j.onRef('m.project_id', '=', 'apps.project_id').on('m.user_id', '=', userId))
    .select(['apps.id', 'apps.slug', 'projects.name as project'])
    .orderBy('apps.slug')
    .execute();

/**
 * Which rows of an app a chart reads, by their `replica` key (the scheme is domain/metrics.ts's):
 * these keys, keys starting with `prefix`, the keys of web replica slots (digits only); `standIn`:
 * a row of `key` counts as `for` in the buckets that have no row of `for`.
 */
export interface KeySelect {
  keys: string[];
  prefix?: string;
  webSlots?: boolean;
  standIn?: { key: string; for: string };
}

/** The process types with a total stored in [from, to) at this resolution (keys 'type:<t>'). */
export async function typesSampled(db: Db, appId: string, res: number, from: number, to: number): Promise<string[]> {
  const rows = await db
    .selectFrom('metric_samples')
    .select('replica')
    .distinct()
    .where('app_id', '=', appId)
    .where('res', '=', res)
    .where('t', '>=', from)
    .where('t', '<', to)
    .where(sql<boolean>`substr(replica, 1, 5) = 'type:'`)
    .execute();
  return rows.map((r) => r.replica.slice(5)).sort();
}

/**
 * One app's buckets of [from, to) summed into buckets of `step` seconds (a whole multiple of the
 * resolution) by the database: counts add up, gauges average over the rows that have them.
 * A 14-day chart reads 60,000 rows; only a few hundred leave the database.
 */
export function bucketsOf(db: Db, appId: string, res: number, from: number, to: number, step: number, sel: KeySelect = { keys: [''], webSlots: true }): Promise<MetricRow[]> {
  if (!Number.isInteger(step) || step <= 0) throw new Error(`step must be a positive integer: ${step}`);
  const b = sql<number>`m.t - m.t % ${sql.lit(step)}`;
  const stand = sel.standIn;
  const replica = sql.ref('m.replica');
  // Literals, not parameters: PostgreSQL matches a grouped expression to the selected one by its text.
  const key = stand ? sql<string>`case when ${replica} = ${sql.lit(stand.key)} then ${sql.lit(stand.for)} else ${replica} end` : sql<string>`${replica}`;
  // A stand-in row counts where its bucket has no row of the key it stands in for: an anti-join on
  // the same bucket (a NOT EXISTS made PostgreSQL compile the query, 2 s of a 14-day chart).
  const other = stand ? sql`left join metric_samples o on o.app_id = m.app_id and o.res = m.res and o.t = m.t and o.replica = ${stand.for} and ${replica} = ${stand.key}` : sql``;
  const wanted = [sql`${replica} in (${sql.join(sel.keys.length ? sel.keys : ['\n'])})`];
  if (sel.prefix) wanted.push(sql`substr(${replica}, 1, ${sel.prefix.length}) = ${sel.prefix}`);
  if (sel.webSlots) wanted.push(sql`(${replica} <> '' and ${replica} not like '%:%' and ${replica} not like '%/%')`);
  if (stand) wanted.push(sql`(${replica} = ${stand.key} and o.t is null)`);
  return sql<MetricRow>`
    select m.app_id, ${sql.lit(res)} as res, ${b} as t, ${key} as replica,
      ${sql.join(COUNTS.map((c) => sql`sum(${sql.ref(`m.${c}`)}) as ${sql.ref(c)}`))},
      ${sql.join(GAUGES.map((c) => sql`avg(${sql.ref(`m.${c}`)}) as ${sql.ref(c)}`))}
    from metric_samples m ${other}
    where m.app_id = ${appId} and m.res = ${res} and m.t >= ${from} and m.t < ${to} and (${sql.join(wanted, sql` or `)})
    group by m.app_id, ${key}, ${b}
    order by ${b}`
    .execute(db)
    .then((r) => r.rows)
    .then((rows) => rows.map((r) => ({ ...r, t: Number(r.t), res: Number(r.res), ...Object.fromEntries(COUNTS.map((c) => [c, Number(r[c])])) }) as MetricRow));
}
