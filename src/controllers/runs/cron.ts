import type { ControllerDeps } from '../deps.js';
import { appById } from '../../store/apps.js';
import { now } from '../../store/db.js';
import * as runs from '../../store/runs.js';
import { newId } from '../../lib/ids.js';
import { firingsBetween, lastFiring } from '../../domain/cron.js';
import type { AppRow } from '../../store/apps.js';
import { tell } from '../tell.js';

/**
 * Scheduled commands: for each one whose schedule fired since the firing last acted on, queue a
 * run of the app's live release, unless its previous run is still under way (runs never overlap;
 * that firing is skipped and the skip is kept as a run with the reason). Firings missed while the
 * control plane was down (or busy) are reported in one row, not replayed in a burst.
 */
export async function fireDue(d: ControllerDeps, at: Date): Promise<number> {
  let queued = 0;
  for (const c of await runs.allCron(d.db)) {
    const fired = lastFiring(c.schedule, at);
    const since = new Date(c.last_fired_at ?? c.created_at);
    if (fired <= since) continue;
    // Acted on first: a crash after this line loses at most this firing, never runs it twice.
    // Fenced and compared: one firing is acted on once, by the instance that holds the lease.
    if (!(await runs.setCronFired(d.db, c.id, c.last_fired_at, fired.toISOString(), d.fence))) continue;
    const app = await appById(d.db, c.app_id);
    if (!app) continue;
    const missed = c.last_fired_at ? firingsBetween(c.schedule, since, fired) : 0;
    if (missed) await report(d, c, app, app.live_release_id ?? '', `${missed} scheduled run(s) between ${since.toISOString()} and ${fired.toISOString()} were missed (the control plane was down or busy); they are not replayed`);
    if (!app.live_release_id) {
      await report(d, c, app, '', 'skipped: the app has no live release');
      continue;
    }
    if (await runs.cronBusy(d.db, c.id)) {
      await report(d, c, app, app.live_release_id, 'skipped: the previous run was still under way');
      continue;
    }
    const id = newId('run');
    await runs.insertRun(d.db, runs.newRun(id, app, app.live_release_id, 'cron', c.command, c.timeout_s, { cron_id: c.id }));
    await tell(d, { actor: { system: 'cron' }, project_id: app.project_id, app_id: app.id, kind: 'cron.fired', message: `scheduled command ${c.schedule} fired: run ${id} queued`, data: { cron: c.id, run: id, at: fired.toISOString() } });
    queued++;
  }
  return queued;
}

/** A firing that ran nothing: kept as a failed run with the reason, so `berth cron ls` shows it. */
async function report(d: ControllerDeps, c: runs.CronRow, app: AppRow, releaseId: string, reason: string) {
  const ts = now();
  const row = runs.newRun(newId('run'), { id: c.app_id, slug: '' }, releaseId, 'cron', c.command, c.timeout_s, { cron_id: c.id, status: 'failed', reason, container_name: '', finished_at: ts });
  await runs.insertRun(d.db, row);
  d.log.warn({ cron: c.id, reason }, 'scheduled command did not run');
  await tell(d, { actor: { system: 'cron' }, project_id: app.project_id, app_id: app.id, kind: 'cron.missed', message: `scheduled command ${c.schedule}: ${reason}`, data: { cron: c.id, run: row.id } });
}
