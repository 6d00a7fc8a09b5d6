import type { ControllerDeps } from '../deps.js';
import * as store from '../../store/backups.js';
import { newId } from '../../lib/ids.js';
import { lastFiring } from '../../domain/cron.js';
import type { BackupTarget } from './target.js';

/**
 * Queues a scheduled backup for each target whose schedule fired since its last scheduled backup
 * (or since it was made). Only the latest firing counts: after the control plane was down through
 * several, one backup is taken and the gap is logged, not a burst of them.
 */
export async function dueBackups(d: ControllerDeps, targets: BackupTarget[], at: Date): Promise<void> {
  for (const t of targets) {
    if (!t.backup_schedule || !t.ready) continue;
    const fired = lastFiring(t.backup_schedule, at);
    const last = await store.lastScheduledBackup(d.db, t.owner);
    const since = new Date(last?.created_at ?? t.created_at);
    if (fired <= since) continue;
    const missed = fired.getTime() - since.getTime() > 0 && last ? lastFiring(t.backup_schedule, new Date(fired.getTime() - 1)) > since : false;
    if (missed) d.log.warn({ owner: t.owner }, 'scheduled backups were missed while the control plane was down; taking one now');
    const note = missed ? 'runs were missed while the control plane was down: one backup taken for them' : null;
    await store.insertJob(d.db, store.newJob(newId('bkp'), t.owner, 'backup', 'schedule', null, note));
  }
}
