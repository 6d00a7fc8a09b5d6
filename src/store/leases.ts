import { sql, type RawBuilder, type SqlBool } from 'kysely';
import type { Db } from './db.js';

/** The lease the controllers run under: one leader runs every controller. */
export const LEADER = 'leader';

/**
 * A leader's term: the lease's name and the token it was won with. A write fenced on it takes
 * effect only while that token is still the lease's, so a deposed leader (paused, partitioned)
 * cannot write stale state after another instance took over. Null: no lease (SQLite, one instance).
 */
export type Fence = { name: string; token: number } | null;

/** The database's clock in epoch milliseconds: instances compare times on one clock. */
const nowMs = sql<number>`(extract(epoch from clock_timestamp()) * 1000)::double precision`;

/**
 * The condition a fenced write adds: `WHERE EXISTS (SELECT 1 FROM leases WHERE name = .. AND token = ..)`.
 * Usable in any table's where clause; true when there is no fence.
 */
export function holds(fence: Fence): RawBuilder<SqlBool> {
  return fence ? sql<SqlBool>`exists (select 1 from leases where leases.name = ${fence.name} and leases.token = ${fence.token})` : sql<SqlBool>`1 = 1`;
}

/** A fenced write found the lease in another term: this instance no longer leads, and nothing was written. */
export class FencedOut extends Error {
  constructor(what: string) {
    super(`${what}: this control plane no longer holds the lease, so it wrote nothing`);
  }
}

export interface LeaseTerm {
  token: number;
  acquiredMs: number;
}

/** Records (or refreshes) this instance's row: it is alive and where its API answers. */
export async function heartbeat(db: Db, id: string, address: string): Promise<void> {
  await sql`insert into control_planes (id, address, started_ms, last_seen_ms, routes_gen)
    values (${id}, ${address}, ${nowMs}, ${nowMs}, 0)
    on conflict (id) do update set last_seen_ms = excluded.last_seen_ms, address = excluded.address`.execute(db);
}

/** This instance (re)starts: its row says so, and it has acknowledged no route change of this life yet. */
export async function register(db: Db, id: string, address: string): Promise<void> {
  await sql`insert into control_planes (id, address, started_ms, last_seen_ms, routes_gen)
    values (${id}, ${address}, ${nowMs}, ${nowMs}, 0)
    on conflict (id) do update set started_ms = excluded.started_ms, last_seen_ms = excluded.last_seen_ms,
      address = excluded.address, routes_gen = 0`.execute(db);
}

/**
 * Takes the lease if it is free, expired, or held by this same instance's previous life (a restart
 * after a crash); a new term always gets the next token. Null: another holds it.
 */
export async function acquire(db: Db, name: string, holder: string, ttlMs: number): Promise<LeaseTerm | null> {
  const r = await sql<{ token: number; acquired_ms: number }>`insert into leases (name, holder, token, acquired_ms, expires_ms, routes_gen)
    values (${name}, ${holder}, 1, ${nowMs}, ${nowMs} + ${ttlMs}, 0)
    on conflict (name) do update set holder = excluded.holder, token = leases.token + 1,
      acquired_ms = excluded.acquired_ms, expires_ms = excluded.expires_ms
    where leases.expires_ms < excluded.acquired_ms or leases.holder = excluded.holder
    returning token, acquired_ms`.execute(db);
  const row = r.rows[0];
  return row ? { token: Number(row.token), acquiredMs: Number(row.acquired_ms) } : null;
}

/** Extends this holder's term; false when the lease has passed to another term (it was lost). */
export async function renew(db: Db, name: string, holder: string, token: number, ttlMs: number): Promise<boolean> {
  const r = await sql`update leases set expires_ms = ${nowMs} + ${ttlMs}
    where name = ${name} and holder = ${holder} and token = ${token} and expires_ms >= ${nowMs}`.execute(db);
  return Number(r.numAffectedRows ?? 0) > 0;
}

/** Gives the lease up at once (a clean stop): the next instance need not wait for it to expire. */
export async function release(db: Db, name: string, holder: string, token: number): Promise<void> {
  await sql`update leases set expires_ms = 0 where name = ${name} and holder = ${holder} and token = ${token}`.execute(db);
}

/** Removes this instance's row on a clean stop. */
export async function leave(db: Db, id: string): Promise<void> {
  await db.deleteFrom('control_planes').where('id', '=', id).execute();
}

export interface ControlPlaneView {
  id: string;
  address: string;
  started_ms: number;
  last_seen_ms: number;
  routes_gen: number;
}

/** Instances seen within aliveMs, the lease, and the database's time now. */
export async function controlPlanes(db: Db, name: string, aliveMs: number) {
  const now = Number((await sql<{ now: number }>`select ${nowMs} as now`.execute(db)).rows[0]!.now);
  const planes = (await db.selectFrom('control_planes').selectAll().where('last_seen_ms', '>=', now - aliveMs).orderBy('started_ms').execute()).map((p) => ({
    ...p,
    started_ms: Number(p.started_ms),
    last_seen_ms: Number(p.last_seen_ms),
  }));
  const lease = await db.selectFrom('leases').selectAll().where('name', '=', name).executeTakeFirst();
  return { now, planes, lease: lease && { ...lease, acquired_ms: Number(lease.acquired_ms), expires_ms: Number(lease.expires_ms), token: Number(lease.token) } };
}

/** Forgets instances not seen for a long time (a crashed one never removes its row). */
export async function forgetGone(db: Db, olderThanMs: number): Promise<void> {
  await sql`delete from control_planes where last_seen_ms < ${nowMs} - ${olderThanMs}`.execute(db);
}

/** The leader's route generation, bumped (fenced) after each of its route changes. Null: not the holder any more. */
export async function bumpRoutesGen(db: Db, fence: NonNullable<Fence>): Promise<number | null> {
  const r = await db
    .updateTable('leases')
    .set((eb) => ({ routes_gen: eb('routes_gen', '+', 1) }))
    .where('name', '=', fence.name)
    .where('token', '=', fence.token)
    .returning('routes_gen')
    .executeTakeFirst();
  return r ? Number(r.routes_gen) : null;
}

/** The route generation now (what an instance that applies the desired routes after this read serves at least). */
export async function routesGen(db: Db, name: string): Promise<number> {
  const r = await db.selectFrom('leases').select('routes_gen').where('name', '=', name).executeTakeFirst();
  return r ? Number(r.routes_gen) : 0;
}

export async function ackRoutes(db: Db, id: string, gen: number): Promise<void> {
  await db.updateTable('control_planes').set({ routes_gen: gen }).where('id', '=', id).where('routes_gen', '<', gen).execute();
}

/** Live instances (other than me) whose router has not acknowledged generation gen yet. */
export async function behind(db: Db, me: string, gen: number, aliveMs: number): Promise<string[]> {
  const rows = await db
    .selectFrom('control_planes')
    .select('id')
    .where('id', '!=', me)
    .where('routes_gen', '<', gen)
    .where(sql<boolean>`last_seen_ms >= ${nowMs} - ${aliveMs}`)
    .execute();
  return rows.map((r) => r.id);
}
