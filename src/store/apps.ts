import type { Insertable, Selectable } from 'kysely';
import type { Db } from './db.js';
import { now } from './db.js';
import type { AppsTable } from './schema.js';
import type { Role } from './projects.js';

export type AppRow = Selectable<AppsTable>;
export type AppView = AppRow & {
  project_name: string;
  role: Role;
  live_version: number | null;
  target_status: string | null;
};

/** Apps joined with the caller's membership of their project: a non-member sees none of them. */
function visible(db: Db, userId: string) {
  return db
    .selectFrom('apps')
    .innerJoin('projects as p', 'p.id', 'apps.project_id')
    .innerJoin('project_members as m', (j) => j.onRef('m.project_id', '=', 'apps.project_id').on('m.user_id', '=', userId))
    .leftJoin('releases as live', 'live.id', 'apps.live_release_id')
    .leftJoin('releases as target', 'target.id', 'apps.release_id')
    .selectAll('apps')
    .select(['p.name as project_name', 'm.role', 'live.version as live_version', 'target.status as target_status']);
}

export async function listApps(db: Db, userId: string, opts: { projectId?: string; limit: number; offset: number }) {
  let q = visible(db, userId);
  if (opts.projectId) q = q.where('apps.project_id', '=', opts.projectId);
  // The count needs only the membership join: the project and release joins cost ~10x more for nothing.
  let count = db
    .selectFrom('apps')
    .innerJoin('project_members as m', (j) => j.onRef('m.project_id', '=', 'apps.project_id').on('m.user_id', '=', userId))
    .select((eb) => eb.fn.countAll().as('n'));
  if (opts.projectId) count = count.where('apps.project_id', '=', opts.projectId);
  const [items, total] = await Promise.all([
    q.orderBy('apps.created_at').orderBy('apps.id').limit(opts.limit).offset(opts.offset).execute(),
    count.executeTakeFirstOrThrow(),
  ]);
  return { items, total: Number(total.n) };
}

/** An app by id or slug, if the caller may see it. */
export const findApp = (db: Db, userId: string, idOrSlug: string): Promise<AppView | undefined> =>
  visible(db, userId)
    .where((eb) => eb.or([eb('apps.id', '=', idOrSlug), eb('apps.slug', '=', idOrSlug)]))
    .executeTakeFirst();

export async function insertApp(db: Db, row: Insertable<AppsTable>) {
  await db.insertInto('apps').values(row).execute();
}

export async function updateApp(db: Db, id: string, patch: Partial<Omit<AppRow, 'id' | 'project_id' | 'created_at'>>) {
  await db.updateTable('apps').set({ ...patch, updated_at: now() }).where('id', '=', id).execute();
}

export async function deleteApp(db: Db, id: string) {
  await db.deleteFrom('apps').where('id', '=', id).execute();
}

export const appBySlug = (db: Db, slug: string) => db.selectFrom('apps').select(['id', 'project_id']).where('slug', '=', slug).executeTakeFirst();

export const appByName = (db: Db, projectId: string, name: string) =>
  db.selectFrom('apps').select('id').where('project_id', '=', projectId).where('name', '=', name).executeTakeFirst();

export const appById = (db: Db, id: string) => db.selectFrom('apps').selectAll().where('id', '=', id).executeTakeFirst();

/** Every app with its target release: what the app controller looks at. */
export const appTargets = (db: Db) => db.selectFrom('apps').select(['id', 'release_id']).execute();

/** The app's target release and whether it is stopped: checked between rollout steps. */
export const appTarget = (db: Db, id: string) => db.selectFrom('apps').select(['release_id', 'stopped']).where('id', '=', id).executeTakeFirst();
