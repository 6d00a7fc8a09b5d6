import type { ControllerDeps } from '../deps.js';
import type { AddonRow } from '../../store/addons.js';
import * as store from '../../store/addons.js';
import { newId } from '../../lib/ids.js';
import { lastFiring } from '../../domain/cron.js';

/**
 * Queues a scheduled backup for each add-on whose schedule fired since its last scheduled backup
 * (or since it was made). Only the latest firing counts: after the control plane was down through
 * several, one backup is taken and the gap is logged, not a burst of them.
 */
export async function dueBackups(d: ControllerDeps, addons: AddonRow[], at: Date): Promise<void> {
  for (const a of addons) {
    if (!a.backup_schedule || a.status !== 'running') continue;
    const fired = lastFiring(a.backup_schedule, at);
    const last = await store.lastScheduledBackup(d.db, a.id);
    const since = new Date(last?.created_at ?? a.created_at);
    if (fired <= since) continue;
    const missed = fired.getTime() - since.getTime() > 0 && last ? lastFiring(a.backup_schedule, new Date(fired.getTime() - 1)) > since : false;
    if (missed) d.log.warn({ addon: a.id }, 'scheduled backups were missed while the control plane was down; taking one now');
    const note = missed ? 'runs were missed while the control plane was down: one backup taken for them' : null;
    await store.insertJob(d.db, store.newJob(newId('bkp'), a.id, 'backup', 'schedule', null, note));
  }
}
