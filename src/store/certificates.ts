import type { Db } from './db.js';
import { now } from './db.js';
import type { CertificatesTable } from './schema.js';

export type CertificateRow = CertificatesTable;

export const allCertificates = (db: Db) => db.selectFrom('certificates').selectAll().orderBy('hostname').execute();

export const certificateByName = (db: Db, name: string) => db.selectFrom('certificates').selectAll().where('name', '=', name).executeTakeFirst();

export const certificatesForHosts = (db: Db, hostnames: string[]) =>
  hostnames.length === 0
    ? Promise.resolve([] as CertificateRow[])
    : db.selectFrom('certificates').selectAll().where('hostname', 'in', hostnames).execute();

/** A host that needs a certificate (new, or its issuer changed): pending until issued. */
export async function upsertPending(db: Db, row: Pick<CertificateRow, 'name' | 'hostname' | 'issuer'>): Promise<void> {
  const ts = now();
  await db
    .insertInto('certificates')
    .values({ ...row, status: 'pending', message: null, serial: null, not_after: null, issued_at: null, attempts: 0, next_attempt_at: null, created_at: ts, updated_at: ts })
    .onConflict((oc) =>
      oc.column('name').doUpdateSet({ hostname: row.hostname, issuer: row.issuer, status: 'pending', message: null, attempts: 0, next_attempt_at: null, updated_at: ts }),
    )
    .execute();
}

export async function recordIssued(db: Db, name: string, v: { serial: string; notAfter: Date; at: Date }): Promise<void> {
  await db
    .updateTable('certificates')
    .set({ status: 'issued', message: null, serial: v.serial, not_after: v.notAfter.toISOString(), issued_at: v.at.toISOString(), attempts: 0, next_attempt_at: null, updated_at: now() })
    .where('name', '=', name)
    .execute();
}

/** A failed issuance or renewal: a certificate still valid stays issued (and served) while retries go on. */
export async function recordFailure(db: Db, name: string, v: { status: 'issued' | 'failed'; message: string; attempts: number; nextAttemptAt: Date }): Promise<void> {
  await db
    .updateTable('certificates')
    .set({ status: v.status, message: v.message, attempts: v.attempts, next_attempt_at: v.nextAttemptAt.toISOString(), updated_at: now() })
    .where('name', '=', name)
    .execute();
}

export async function deleteCertificates(db: Db, names: string[]): Promise<void> {
  if (names.length) await db.deleteFrom('certificates').where('name', 'in', names).execute();
}
