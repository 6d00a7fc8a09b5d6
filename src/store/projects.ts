import type { Db } from './db.js';
import { now } from './db.js';
import type { MembersTable } from './schema.js';
import { newId } from '../lib/ids.js';

export type Role = MembersTable['role'];

/** A project as one member sees it. */
export interface ProjectView {
  id: string;
  name: string;
  owner_id: string;
  owner_username: string;
  role: Role;
  apps: number;
  created_at: string;
  updated_at: string;
}

/** Every read goes through this: it joins the caller's membership, so non-members see nothing. */
function visible(db: Db, userId: string) {
  return db
    .selectFrom('projects')
    .innerJoin('project_members as m', (j) => j.onRef('m.project_id', '=', 'projects.id').on('m.user_id', '=', userId))
    .innerJoin('users as owner', 'owner.id', 'projects.owner_id')
    .select((eb) => [
      'projects.id',
      'projects.name',
      'projects.owner_id',
      'owner.username as owner_username',
      'm.role',
      'projects.created_at',
      'projects.updated_at',
      eb
        .selectFrom('apps')
        .select((e) => e.fn.countAll<number>().as('n'))
        .whereRef('apps.project_id', '=', 'projects.id')
        .as('apps'),
    ]);
}

const normalize = (r: Omit<ProjectView, 'apps'> & { apps: unknown }): ProjectView => ({ ...r, apps: Number(r.apps ?? 0) });

export async function listProjects(db: Db, userId: string, page: { limit: number; offset: number }) {
  const [rows, total] = await Promise.all([
    visible(db, userId).orderBy('projects.created_at').orderBy('projects.id').limit(page.limit).offset(page.offset).execute(),
    db
      .selectFrom('project_members')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('user_id', '=', userId)
      .executeTakeFirstOrThrow(),
  ]);
  return { items: rows.map(normalize), total: Number(total.n) };
}

/**
 * A project by id, or by name among the caller's projects (their own first, since names are
 * unique per owner only).
 */
export async function findProject(db: Db, userId: string, idOrName: string): Promise<ProjectView | undefined> {
  const byId = await visible(db, userId).where('projects.id', '=', idOrName).executeTakeFirst();
  if (byId) return normalize(byId);
  const byName = await visible(db, userId).where('projects.name', '=', idOrName).execute();
  const own = byName.find((p) => p.owner_id === userId) ?? (byName.length === 1 ? byName[0] : undefined);
  return own ? normalize(own) : undefined;
}

export async function createProject(db: Db, ownerId: string, name: string): Promise<string> {
  const id = newId('prj');
  const ts = now();
  await db.transaction().execute(async (tx) => {
    await tx.insertInto('projects').values({ id, name, owner_id: ownerId, created_at: ts, updated_at: ts }).execute();
    await tx.insertInto('project_members').values({ project_id: id, user_id: ownerId, role: 'owner', created_at: ts }).execute();
  });
  return id;
}

export async function renameProject(db: Db, id: string, name: string) {
  await db.updateTable('projects').set({ name, updated_at: now() }).where('id', '=', id).execute();
}

export async function deleteProject(db: Db, id: string) {
  await db.deleteFrom('projects').where('id', '=', id).execute();
}

/** Every project's id (what the build caches of deleted projects are collected against). */
export const allProjectIds = async (db: Db) => (await db.selectFrom('projects').select('id').execute()).map((p) => p.id);

/** Names of the projects the user owns. */
export const projectsOwnedBy = async (db: Db, userId: string) =>
  (await db.selectFrom('projects').select('name').where('owner_id', '=', userId).execute()).map((p) => p.name);

/** Ids of the projects the user is a member of. */
export const projectIdsOf = async (db: Db, userId: string) =>
  (await db.selectFrom('project_members').select('project_id').where('user_id', '=', userId).execute()).map((r) => r.project_id);

/** The owner of a project (who its quotas are). */
export const projectOwner = async (db: Db, projectId: string) =>
  (await db.selectFrom('projects').select('owner_id').where('id', '=', projectId).executeTakeFirstOrThrow()).owner_id;

export const projectCountOwnedBy = async (db: Db, userId: string) =>
  Number((await db.selectFrom('projects').select((eb) => eb.fn.countAll<number>().as('n')).where('owner_id', '=', userId).executeTakeFirstOrThrow()).n);

export const listMembers = (db: Db, projectId: string) =>
  db
    .selectFrom('project_members as m')
    .innerJoin('users as u', 'u.id', 'm.user_id')
    .select(['m.user_id', 'u.username', 'm.role', 'm.created_at'])
    .where('m.project_id', '=', projectId)
    .orderBy('m.created_at')
    .execute();

export async function upsertMember(db: Db, projectId: string, userId: string, role: Role) {
  const existing = await db
    .selectFrom('project_members')
    .select('role')
    .where('project_id', '=', projectId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  if (existing) {
    await db.updateTable('project_members').set({ role }).where('project_id', '=', projectId).where('user_id', '=', userId).execute();
  } else {
    await db.insertInto('project_members').values({ project_id: projectId, user_id: userId, role, created_at: now() }).execute();
  }
}

export async function removeMember(db: Db, projectId: string, userId: string) {
  await db.deleteFrom('project_members').where('project_id', '=', projectId).where('user_id', '=', userId).execute();
}

/** The caller's project named `default`, created on first use. */
export async function defaultProject(db: Db, userId: string): Promise<ProjectView> {
  const found = await visible(db, userId).where('projects.name', '=', 'default').where('projects.owner_id', '=', userId).executeTakeFirst();
  if (found) return normalize(found);
  try {
    await createProject(db, userId, 'default');
  } catch {
    // Two first requests raced to create it; the other one won, which is fine.
  }
  const created = await visible(db, userId).where('projects.name', '=', 'default').where('projects.owner_id', '=', userId).executeTakeFirstOrThrow();
  return normalize(created);
}
