import type { Db } from './db.js';
import { now } from './db.js';
import type { QuotaLimits } from '../config-access.js';

export type QuotaOverrides = { [K in keyof QuotaLimits]?: number | null };
const KEYS: (keyof QuotaLimits)[] = ['projects', 'apps_per_project', 'replicas', 'memory_mb', 'cron_min_interval_s'];

/** A user's quota: the admin's overrides over the defaults, and which of them are overridden. */
export async function quotaOf(db: Db, defaults: QuotaLimits, userId: string): Promise<{ limits: QuotaLimits; overridden: (keyof QuotaLimits)[] }> {
  const row = await db.selectFrom('user_quotas').selectAll().where('user_id', '=', userId).executeTakeFirst();
  const limits = { ...defaults };
  const overridden: (keyof QuotaLimits)[] = [];
  for (const k of KEYS) {
    const v = row?.[k];
    if (v !== null && v !== undefined) {
      limits[k] = v;
      overridden.push(k);
    }
  }
  return { limits, overridden };
}

/** Sets the given overrides (null: back to the default); others are kept. */
export async function setQuota(db: Db, userId: string, patch: QuotaOverrides): Promise<void> {
  const existing = await db.selectFrom('user_quotas').selectAll().where('user_id', '=', userId).executeTakeFirst();
  const values = Object.fromEntries(KEYS.filter((k) => patch[k] !== undefined).map((k) => [k, patch[k]]));
  if (existing) await db.updateTable('user_quotas').set({ ...values, updated_at: now() }).where('user_id', '=', userId).execute();
  else await db.insertInto('user_quotas').values({ user_id: userId, ...values, updated_at: now() }).execute();
}
