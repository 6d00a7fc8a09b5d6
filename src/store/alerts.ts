import { sql } from 'kysely';
import type { Db } from './db.js';
import type { AlertRulesTable, AlertStatesTable } from './schema.js';
import { holds, type Fence } from './leases.js';

export type AlertRuleRow = AlertRulesTable;
export type AlertStateRow = AlertStatesTable;

export const rulesOf = (db: Db, appId: string) => db.selectFrom('alert_rules').selectAll().where('app_id', '=', appId).execute();

export const allRules = (db: Db) => db.selectFrom('alert_rules').selectAll().execute();

export async function upsertRule(db: Db, row: AlertRuleRow): Promise<void> {
  await db
    .insertInto('alert_rules')
    .values(row)
    .onConflict((oc) => oc.columns(['app_id', 'rule']).doUpdateSet({ enabled: row.enabled, threshold: row.threshold, updated_at: row.updated_at }))
    .execute();
}

export const statesOf = (db: Db, appId: string) => db.selectFrom('alert_states').selectAll().where('app_id', '=', appId).execute();

export const allStates = (db: Db) => db.selectFrom('alert_states').selectAll().execute();

/** Firing alerts of a project's apps, with the app's slug. */
export const firingInProject = (db: Db, projectId: string) =>
  db
    .selectFrom('alert_states')
    .innerJoin('apps', 'apps.id', 'alert_states.app_id')
    .selectAll('alert_states')
    .select(['apps.slug', 'apps.name'])
    .where('apps.project_id', '=', projectId)
    .where('alert_states.status', '=', 'firing')
    .orderBy('alert_states.since')
    .execute();

/**
 * Writes a rule's new state, and what `then` writes with it (its event and notifications), in one
 * transaction, only if the state is still the version this pass read (`readVersion`, null: no row
 * yet) and, on PostgreSQL, this leader still holds its lease (`fence`). Each write bumps the version,
 * so a writer that read the state before another's write (a deposed leader's last pass, even one
 * that saw firing and finds firing again after a resolve in between) writes and tells nothing.
 * Null: not written; otherwise what `then` returned, committed with the state.
 */
export async function writeState<T>(db: Db, row: Omit<AlertStateRow, 'version'>, readVersion: number | null, fence: Fence, then: (tx: Db) => Promise<T>): Promise<{ then: T } | null> {
  try {
    return await db.transaction().execute(async (tx) => {
      // A rule without a row starts from ok at version 0, as the first write of any evaluator.
      if (readVersion === null) {
        await tx
          .insertInto('alert_states')
          .values({ ...row, status: 'ok', since: row.updated_at, clear_since: null, value: null, version: 0 })
          .onConflict((oc) => oc.columns(['app_id', 'rule']).doNothing())
          .execute();
      }
      const from = readVersion ?? 0;
      const r = await tx
        .updateTable('alert_states')
        .set({ status: row.status, since: row.since, clear_since: row.clear_since, value: row.value, updated_at: row.updated_at, version: from + 1 })
        .where('app_id', '=', row.app_id)
        .where('rule', '=', row.rule)
        .where('version', '=', from)
        .where(holds(fence))
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) === 0) throw new Stale();
      return { then: await then(tx) };
    });
  } catch (err) {
    if (err instanceof Stale) return null;
    throw err;
  }
}

/** Rolls a transition back: another writer changed the state since it was read, or the lease moved on. */
class Stale extends Error {}

/**
 * Rows whose status did not change (a value that moved, a clear spell that began), in one
 * statement: each only if it is still the version read, and the fence holds; the others are left.
 */
export async function writeValues(db: Db, rows: AlertStateRow[], fence: Fence): Promise<void> {
  for (let i = 0; i < rows.length; i += 500) {
    await db
      .insertInto('alert_states')
      .values(rows.slice(i, i + 500))
      .onConflict((oc) =>
        oc
          .columns(['app_id', 'rule'])
          .doUpdateSet((eb) => ({ value: eb.ref('excluded.value'), clear_since: eb.ref('excluded.clear_since'), updated_at: eb.ref('excluded.updated_at'), version: eb('alert_states.version', '+', 1) }))
          .where('alert_states.version', '=', (eb) => eb.ref('excluded.version'))
          .where(holds(fence)),
      )
      .execute();
  }
}

/** Every app with what the rules need of it. */
export const alertedApps = (db: Db) =>
  db.selectFrom('apps').select(['id', 'slug', 'project_id', 'memory_mb', 'volumes', 'release_id', 'stopped']).execute();

/** Every app's buckets of resolution `res` (the app's row, replica '') summed over [from, to), by app. */
export async function trafficSumsByApp(db: Db, res: number, from: number, to: number) {
  const rows = await db
    .selectFrom('metric_samples')
    .select([
      'app_id',
      sql<number>`coalesce(sum(requests), 0)`.as('requests'),
      sql<number>`coalesce(sum(r5xx), 0)`.as('r5xx'),
      sql<number>`coalesce(sum(case when p95_ms is not null then p95_ms * requests else 0 end), 0)`.as('weighted_ms'),
      sql<number>`coalesce(sum(case when p95_ms is not null then requests else 0 end), 0)`.as('weighted_requests'),
      sql<number>`coalesce(sum(restarts), 0)`.as('restarts'),
    ])
    .where('res', '=', res)
    .where('replica', '=', '')
    .where('t', '>=', from)
    .where('t', '<', to)
    .groupBy('app_id')
    .execute();
  return new Map(
    rows.map((r) => [r.app_id, { requests: Number(r.requests), r5xx: Number(r.r5xx), weighted_ms: Number(r.weighted_ms), weighted_requests: Number(r.weighted_requests), restarts: Number(r.restarts) }]),
  );
}

/** Per app, the largest memory use of one web replica slot in the app's newest bucket since `from` that has one. */
export async function peakReplicaMemoryByApp(db: Db, res: number, from: number): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom('metric_samples')
    .select(['app_id', 't', sql<number>`max(memory_mb)`.as('m')])
    .where('res', '=', res)
    // Web replica slots only (keys: domain/metrics.ts): not the app, a type's total or another type's replica.
    .where('replica', '!=', '')
    .where('replica', 'not like', '%:%')
    .where('replica', 'not like', '%/%')
    .where('memory_mb', 'is not', null)
    .where('t', '>=', from)
    .groupBy(['app_id', 't'])
    .execute();
  const newest = new Map<string, { t: number; m: number }>();
  for (const r of rows) {
    const seen = newest.get(r.app_id);
    if (!seen || Number(r.t) > seen.t) newest.set(r.app_id, { t: Number(r.t), m: Number(r.m) });
  }
  return new Map([...newest].map(([app, v]) => [app, v.m]));
}

/** Verified custom domains, by app. */
export async function verifiedHostsByApp(db: Db): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const d of await db.selectFrom('domains').select(['app_id', 'hostname']).where('verified', '=', 1).execute()) out.set(d.app_id, [...(out.get(d.app_id) ?? []), d.hostname]);
  return out;
}

/** When each issued certificate expires, by hostname. */
export async function issuedExpiry(db: Db): Promise<Map<string, string>> {
  const rows = await db.selectFrom('certificates').select(['hostname', 'not_after']).where('status', '=', 'issued').where('not_after', 'is not', null).execute();
  return new Map(rows.map((r) => [r.hostname, r.not_after!]));
}

/** The add-ons attached to each app. */
export async function addonsByApp(db: Db): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const a of await db.selectFrom('addon_attachments').select(['addon_id', 'app_id']).execute()) out.set(a.app_id, [...(out.get(a.app_id) ?? []), a.addon_id]);
  return out;
}

/** Volumes with a size set (only they can be nearly full), by id. */
export async function sizedVolumes(db: Db) {
  const rows = await db.selectFrom('volumes').select(['id', 'name', 'project_id', 'size_mb']).where('size_mb', 'is not', null).execute();
  return new Map(rows.map((v) => [v.id, v]));
}

/**
 * Whether the newest finished backup of each add-on (`addon:<id>`) and volume (`volume:<id>`)
 * failed or failed its restore check. Read only: the backup runner owns these rows. One query that
 * reads, per add-on and volume, its newest finished backup through the owner's index
 * (backup_jobs_addon, backup_jobs_volume), however many jobs each keeps.
 */
export async function newestBackupFailed(db: Db): Promise<Map<string, boolean>> {
  const finished = ['succeeded', 'failed'] as const;
  // One owner's newest finished backup: a seek on its index (backup_jobs_addon, backup_jobs_volume).
  const newest = (owner: 'addons' | 'volumes') =>
    db
      .selectFrom('backup_jobs as j')
      .select('j.id')
      .whereRef(owner === 'addons' ? 'j.addon_id' : 'j.volume_id', '=', sql.ref(`${owner}.id`))
      .where('j.kind', '=', 'backup')
      .where('j.status', 'in', finished)
      .orderBy('j.created_at', 'desc')
      .orderBy('j.id', 'desc')
      .limit(1);
  const rows = await db
    .selectFrom('backup_jobs')
    .select(['addon_id', 'volume_id', 'status', 'verify_status'])
    .where('id', 'in', (eb) =>
      eb
        .selectFrom('addons')
        .select(newest('addons').as('id'))
        .unionAll(eb.selectFrom('volumes').select(newest('volumes').as('id'))),
    )
    .execute();
  const out = new Map<string, boolean>();
  for (const r of rows) out.set(r.addon_id ? `addon:${r.addon_id}` : `volume:${r.volume_id}`, r.status === 'failed' || r.verify_status === 'failed');
  return out;
}
