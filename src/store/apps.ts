import type { Selectable } from 'kysely';
import type { Db } from './db.js';
import { now } from './db.js';
import type { AppsTable } from './schema.js';
import type { Role } from './projects.js';
import * as col from './app-columns.js';

type Encoded = 'health_check' | 'env' | 'volumes' | 'release_command' | 'placement';

/** An app as the rest of Berth sees it: its JSON columns decoded (app-columns.ts). */
export type AppRow = Omit<Selectable<AppsTable>, Encoded | 'log_retention_days' | 'log_retention_mb'> & {
  /** The app's own log retention (null or absent: the platform's). */
  log_retention_days?: number | null;
  log_retention_mb?: number | null;
  health_check: col.HealthCheck;
  env: col.StoredEnv;
  volumes: col.MountColumn[];
  /** Run once per release before traffic moves; null: none. */
  release_command: string[] | null;
  /** Cluster mode: where the replicas may run; null: anywhere. */
  placement: col.Placement | null;
};
export type AppView = AppRow & {
  project_name: string;
  role: Role;
  live_version: number | null;
  target_status: string | null;
  /** The status of the app's newest release: a first release that failed leaves no target, and the app must still say failed. */
  newest_status: string | null;
};
export type AppPatch = Partial<Omit<AppRow, 'id' | 'project_id' | 'created_at'>>;

/** The one decoder of an `apps` row (and of rows that extend it with joined columns). */
export function decodeApp<R extends Selectable<AppsTable>>(r: R): Omit<R, Encoded> & Pick<AppRow, Encoded> {
  return {
    ...r,
    health_check: col.decodeHealthCheck(r.health_check),
    env: col.decodeEnv(r.env),
    volumes: col.decodeMounts(r.volumes),
    release_command: col.decodeCommand(r.release_command, 'release_command'),
    placement: col.decodePlacement(r.placement),
  };
}

/** The columns of a patch (or a whole row) as stored. */
export function encodeApp<P extends AppPatch>(p: P) {
  const { health_check, env, volumes, release_command, placement, ...rest } = p;
  return {
    ...rest,
    ...(health_check !== undefined ? { health_check: col.encodeHealthCheck(health_check) } : {}),
    ...(env !== undefined ? { env: col.encodeEnv(env) } : {}),
    ...(volumes !== undefined ? { volumes: col.encodeMounts(volumes) } : {}),
    ...(release_command !== undefined ? { release_command: col.encodeCommand(release_command) } : {}),
    ...('placement' in p ? { placement: col.encodePlacement(placement) } : {}),
  };
}

/** Apps joined with the caller's membership of their project: a non-member sees none of them. */
function visible(db: Db, userId: string) {
  return db
    .selectFrom('apps')
    .innerJoin('projects as p', 'p.id', 'apps.project_id')
    .innerJoin('project_members as m', (j) => j.onRef('m.project_id', '=', 'apps.project_id').on('m.user_id', '=', userId))
    .leftJoin('releases as live', 'live.id', 'apps.live_release_id')
    .leftJoin('releases as target', 'target.id', 'apps.release_id')
    .selectAll('apps')
    .select(['p.name as project_name', 'm.role', 'live.version as live_version', 'target.status as target_status'])
    .select((eb) =>
      eb.selectFrom('releases as newest').select('newest.status').whereRef('newest.app_id', '=', 'apps.id').orderBy('newest.version', 'desc').limit(1).as('newest_status'),
    );
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
  return { items: items.map((r): AppView => decodeApp(r)), total: Number(total.n) };
}

/** An app by id or slug, if the caller may see it. */
export async function findApp(db: Db, userId: string, idOrSlug: string): Promise<AppView | undefined> {
  const r = await visible(db, userId)
    .where((eb) => eb.or([eb('apps.id', '=', idOrSlug), eb('apps.slug', '=', idOrSlug)]))
    .executeTakeFirst();
  return r && decodeApp(r);
}

/** A new app: the columns with defaults may be left out. */
export type NewApp = Omit<AppRow, 'volumes' | 'release_command' | 'placement' | 'drain_timeout_s'> &
  Partial<Pick<AppRow, 'volumes' | 'release_command' | 'placement' | 'drain_timeout_s'>>;

export async function insertApp(db: Db, row: NewApp) {
  await db
    .insertInto('apps')
    .values({ ...encodeApp(row), health_check: col.encodeHealthCheck(row.health_check), env: col.encodeEnv(row.env) })
    .execute();
}

export async function updateApp(db: Db, id: string, patch: AppPatch) {
  await db.updateTable('apps').set({ ...encodeApp(patch), updated_at: now() }).where('id', '=', id).execute();
}

export async function deleteApp(db: Db, id: string) {
  await db.deleteFrom('apps').where('id', '=', id).execute();
}

export const appBySlug = (db: Db, slug: string) => db.selectFrom('apps').select(['id', 'project_id']).where('slug', '=', slug).executeTakeFirst();

export const appByName = (db: Db, projectId: string, name: string) =>
  db.selectFrom('apps').select('id').where('project_id', '=', projectId).where('name', '=', name).executeTakeFirst();

export async function appById(db: Db, id: string): Promise<AppRow | undefined> {
  const r = await db.selectFrom('apps').selectAll().where('id', '=', id).executeTakeFirst();
  return r && decodeApp(r);
}

/** Every app's id, slug, state and health check path: what the router's table is made from. */
export async function routedApps(db: Db) {
  const rows = await db.selectFrom('apps').select(['id', 'slug', 'stopped', 'health_check', 'drain_timeout_s']).execute();
  return rows.map((r) => ({ ...r, health_check: col.decodeHealthCheck(r.health_check) }));
}

export const appSlugs = async (db: Db) => (await db.selectFrom('apps').select('slug').execute()).map((r) => r.slug);

export const appSlugById = async (db: Db, id: string) => (await db.selectFrom('apps').select('slug').where('id', '=', id).executeTakeFirst())?.slug;

export const appCountInProject = async (db: Db, projectId: string) =>
  Number((await db.selectFrom('apps').select((eb) => eb.fn.countAll<number>().as('n')).where('project_id', '=', projectId).executeTakeFirstOrThrow()).n);

/** The project of an app by id or slug (whoever asks: the audit log names it). */
export const projectOfApp = async (db: Db, idOrSlug: string) =>
  (await db.selectFrom('apps').select('project_id').where((eb) => eb.or([eb('id', '=', idOrSlug), eb('slug', '=', idOrSlug)])).executeTakeFirst())?.project_id;

/** The apps of a project: whether each runs and on which release (what a volume's restore waits on). */
export const projectAppStates = (db: Db, projectId: string) =>
  db.selectFrom('apps').select(['slug', 'stopped', 'release_id']).where('project_id', '=', projectId).execute();

/** Every app with its target release: what the app controller looks at. */
export const appTargets = (db: Db) => db.selectFrom('apps').select(['id', 'release_id']).execute();

/** The app's target release and whether it is stopped: checked between rollout steps. */
export const appTarget = (db: Db, id: string) => db.selectFrom('apps').select(['release_id', 'stopped']).where('id', '=', id).executeTakeFirst();
