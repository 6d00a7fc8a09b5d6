import { now, type Db } from '../../src/store/db.js';

/** Rows the certificate tests need: a user and a project to hold apps. */
export async function seedProject(db: Db): Promise<void> {
  const ts = now();
  await db.insertInto('users').values({ id: 'u1', username: 'u', password_hash: 'x', is_admin: 1, disabled: 0, created_at: ts, updated_at: ts }).execute();
  await db.insertInto('projects').values({ id: 'p1', name: 'p', owner_id: 'u1', created_at: ts, updated_at: ts }).execute();
}

export async function addApp(db: Db, id: string, slug: string): Promise<void> {
  const ts = now();
  await db
    .insertInto('apps')
    .values({
      id, project_id: 'p1', name: slug, slug, image: 'img', replicas: 1, memory_mb: 64, cpu: 1, port: 8080, strategy: 'rolling',
      health_check: '{}', env: '{}', release_id: null, live_release_id: null, stopped: 0, restart_seq: 0, auto_deploy: 0, created_at: ts, updated_at: ts,
    })
    .execute();
}

/** A custom domain row; verified ones are routed (the DNS check itself is the domain controller's). */
export async function addDomain(db: Db, appId: string, hostname: string, verified: boolean): Promise<void> {
  const ts = now();
  await db
    .insertInto('domains')
    .values({ id: `dom_${hostname}`, app_id: appId, hostname, token: 't', verified: verified ? 1 : 0, verified_by: verified ? 'http' : null, message: null, checked_at: verified ? ts : null, verified_at: verified ? ts : null, created_at: ts })
    .execute();
}
