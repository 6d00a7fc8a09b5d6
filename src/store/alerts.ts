import { sql } from 'kysely';
import type { Db } from './db.js';
import type { AlertRulesTable, AlertStatesTable } from './schema.js';

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
 * Writes a rule's new state only if it is still the one this pass read (`prevStatus`, null: no row
 * yet): an overlapping writer (a deposed leader's last pass) makes the other's write a no-op, so a
 * transition is told once. Returns whether this write happened.
 */
export async function writeState(db: Db, row: AlertStateRow, prevStatus: AlertStateRow['status'] | null): Promise<boolean> {
  if (prevStatus === null) {
    const r = await db.insertInto('alert_states').values(row).onConflict((oc) => oc.columns(['app_id', 'rule']).doNothing()).executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
  }
  const r = await db
    .updateTable('alert_states')
    .set({ status: row.status, since: row.since, clear_since: row.clear_since, value: row.value, updated_at: row.updated_at })
    .where('app_id', '=', row.app_id)
    .where('rule', '=', row.rule)
    .where('status', '=', prevStatus)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** Every app with what the rules need of it. */
export const alertedApps = (db: Db) =>
  db.selectFrom('apps').select(['id', 'slug', 'project_id', 'memory_mb', 'volumes', 'release_id', 'stopped']).execute();

/** One app's buckets of resolution `res` (the app's row, replica '') summed over [from, to). */
export async function trafficSums(db: Db, appId: string, res: number, from: number, to: number) {
  const r = await db
    .selectFrom('metric_samples')
    .select([
      sql<number>`coalesce(sum(requests), 0)`.as('requests'),
      sql<number>`coalesce(sum(r5xx), 0)`.as('r5xx'),
      sql<number>`coalesce(sum(case when response_ms is not null then response_ms * requests else 0 end), 0)`.as('weighted_ms'),
      sql<number>`coalesce(sum(case when response_ms is not null then requests else 0 end), 0)`.as('weighted_requests'),
      sql<number>`coalesce(sum(restarts), 0)`.as('restarts'),
    ])
    .where('app_id', '=', appId)
    .where('res', '=', res)
    .where('replica', '=', '')
    .where('t', '>=', from)
    .where('t', '<', to)
    .executeTakeFirstOrThrow();
  return { requests: Number(r.requests), r5xx: Number(r.r5xx), weighted_ms: Number(r.weighted_ms), weighted_requests: Number(r.weighted_requests), restarts: Number(r.restarts) };
}

/** The largest memory use of one web replica slot in the app's newest sampled bucket since `from`. */
export async function peakReplicaMemory(db: Db, appId: string, res: number, from: number): Promise<number | null> {
  const newest = await db
    .selectFrom('metric_samples')
    .select(sql<number | null>`max(t)`.as('t'))
    .where('app_id', '=', appId)
    .where('res', '=', res)
    .where('replica', '!=', '')
    .where('memory_mb', 'is not', null)
    .where('t', '>=', from)
    .executeTakeFirst();
  if (newest?.t === null || newest?.t === undefined) return null;
  const r = await db
    .selectFrom('metric_samples')
    .select(sql<number | null>`max(memory_mb)`.as('m'))
    .where('app_id', '=', appId)
    .where('res', '=', res)
    .where('replica', '!=', '')
    .where('t', '=', Number(newest.t))
    .executeTakeFirst();
  return r?.m === null || r?.m === undefined ? null : Number(r.m);
}

/** Verified custom domains of an app. */
export const verifiedHostsOf = async (db: Db, appId: string) =>
  (await db.selectFrom('domains').select('hostname').where('app_id', '=', appId).where('verified', '=', 1).execute()).map((d) => d.hostname);

/** Issued certificates' expiry for these hosts. */
export const certificateExpiry = (db: Db, hosts: string[]) =>
  hosts.length === 0
    ? Promise.resolve([])
    : db.selectFrom('certificates').select(['hostname', 'not_after', 'status']).where('hostname', 'in', hosts).where('status', '=', 'issued').execute();

/** Add-ons attached to an app. */
export const addonsOfApp = async (db: Db, appId: string) =>
  (await db.selectFrom('addon_attachments').select('addon_id').where('app_id', '=', appId).execute()).map((a) => a.addon_id);

/** Volumes by id (an app's mounts name them), with their size. */
export const volumesByIds = (db: Db, ids: string[]) =>
  ids.length === 0 ? Promise.resolve([]) : db.selectFrom('volumes').select(['id', 'name', 'project_id', 'size_mb']).where('id', 'in', ids).execute();

/** The newest finished backup of an add-on or volume (read only: the backup runner owns these rows). */
export const newestFinishedBackup = (db: Db, owner: { kind: 'addon' | 'volume'; id: string }) =>
  db
    .selectFrom('backup_jobs')
    .select(['id', 'status', 'verify_status', 'finished_at'])
    .where(owner.kind === 'addon' ? 'addon_id' : 'volume_id', '=', owner.id)
    .where('kind', '=', 'backup')
    .where('status', 'in', ['succeeded', 'failed'])
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
