import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ControllerDeps } from '../deps.js';
import type { BackupJobRow } from '../../store/backups.js';
import * as store from '../../store/backups.js';
import { now } from '../../store/db.js';
import { backupDestination } from '../../store/backup-destination.js';
import { openDestination } from '../../domain/backup-destination.js';
import { offsitePath, rcloneEnv } from '../../domain/offsite-copy.js';
import { run } from '../../lib/exec.js';
import type { BackupTarget } from './target.js';
import { tell } from '../tell.js';

const COPY_TIMEOUT_MS = 60 * 60_000;

/**
 * After a backup: its file copied, encrypted, to the off-site destination when one is set
 * (domain/offsite-copy.ts). A failed copy leaves the local backup good; the job says why and the
 * project is told.
 */
export async function copyOffsite(d: ControllerDeps, t: BackupTarget, job: BackupJobRow, file: string, signal: AbortSignal): Promise<void> {
  const row = await backupDestination(d.db);
  if (!row) return;
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: d.config.dataDir };
  let caFile: string | null = null;
  try {
    const dest = openDestination(d.secrets, row);
    const obscured = await run('rclone', ['obscure', '-'], { timeoutMs: 30_000, input: dest.key, env });
    if (obscured.code !== 0) throw new Error(`rclone obscure: ${obscured.stderr.trim().slice(0, 300)}`);
    const args = ['copyto', file, offsitePath(t.owner.kind, t.owner.id, job.id, t.ext), '--config', '/dev/null', '--retries', '2', '--low-level-retries', '3'];
    if (dest.ca) {
      caFile = join(d.config.dataDir, `offsite-ca-${job.id}.pem`);
      await writeFile(caFile, dest.ca, { mode: 0o600 });
      args.push('--ca-cert', caFile);
    }
    const r = await run('rclone', args, { timeoutMs: COPY_TIMEOUT_MS, signal, env: { ...env, ...rcloneEnv(dest, obscured.stdout.trim()) } });
    if (r.code !== 0) throw new Error(`rclone exited with code ${r.code}: ${r.stderr.trim().split('\n').slice(-3).join(' ').slice(0, 1000)}`);
    await store.updateJob(d.db, job.id, { offsite_at: now(), offsite_error: null });
  } catch (err) {
    if (signal.aborted) return;
    const reason = (err as Error).message.slice(0, 2000);
    await store.updateJob(d.db, job.id, { offsite_error: reason });
    await tell(d, { actor: { system: 'backups' }, project_id: t.project_id, kind: `${t.owner.kind}.backup.offsite_failed`, message: `the off-site copy of backup ${job.id} of ${t.name} failed: ${reason.slice(0, 300)}`, data: { [t.owner.kind]: t.owner.id, job: job.id } });
  } finally {
    if (caFile) await rm(caFile, { force: true });
  }
}
