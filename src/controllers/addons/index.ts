import type { ControllerDeps } from '../deps.js';
import { tell } from '../tell.js';
import { LABEL } from '../../runtime/labels.js';
import * as store from '../../store/addons.js';
import { ADDON_JOB_LABEL } from '../../domain/addons.js';
import { ensureAddon, removeDeleted } from './servers.js';
import { runJob } from './jobs.js';
import { dueBackups } from './schedule.js';
import { Passes } from '../passes.js';

/**
 * Managed add-ons: keeps each add-on's server running, removes what deleted ones left, and runs
 * backup and restore jobs, one at a time per add-on. On start, jobs a stop cut short are marked
 * failed with the reason and their helper containers removed, before anything else runs.
 */
export class AddonController {
  private readonly busy = new Map<string, Promise<void>>();
  private readonly passes: Passes;

  constructor(
    private readonly d: ControllerDeps,
    intervalMs = 3_000,
  ) {
    this.passes = new Passes(() => this.pass(), (err) => this.d.log.warn({ err }, 'add-on pass failed'), intervalMs);
  }

  async recover(): Promise<void> {
    for (const j of await store.jobsWithStatus(this.d.db, 'running')) {
      await store.updateJob(this.d.db, j.id, { status: 'failed', reason: `the control plane stopped during the ${j.kind}`, finished_at: new Date().toISOString() });
      this.d.log.warn({ job: j.id }, `marked an add-on ${j.kind} failed: the control plane stopped during it`);
    }
    for (const c of await this.d.runtime.listContainers({ [LABEL.instance]: this.d.instanceId })) {
      if (c.labels[ADDON_JOB_LABEL]) await this.d.runtime.removeContainer(c.id);
    }
  }

  start(): void {
    this.passes.start();
  }

  stop(): Promise<void> {
    return this.passes.stop();
  }

  /** A pass soon (now, unless one runs; then once more after it). */
  nudge(): void {
    this.passes.nudge();
  }

  private async pass(): Promise<void> {
    const addons = await store.allAddons(this.d.db);
    await removeDeleted(this.d, new Set(addons.map((a) => a.id)));
    for (const a of addons) {
      if (this.passes.signal.aborted) return;
      // A job under way may have stopped the server on purpose (a Redis restore); it starts it again.
      if (this.busy.has(a.id)) continue;
      await ensureAddon(this.d, a).catch(async (err) => {
        this.d.log.warn({ err, addon: a.id }, 'add-on could not be started');
        await store.updateAddon(this.d.db, a.id, { status: 'failed', message: (err as Error).message.slice(0, 2000) });
        if (a.status !== 'failed') await tell(this.d, { project_id: a.project_id, kind: 'addon.failed', message: `add-on ${a.name} could not be started: ${(err as Error).message.slice(0, 500)}`, data: { addon: a.id } });
      });
    }
    await dueBackups(this.d, addons, new Date());
    for (const job of await store.jobsWithStatus(this.d.db, 'queued')) {
      const a = addons.find((x) => x.id === job.addon_id);
      if (!a || a.status !== 'running' || this.busy.has(a.id) || this.passes.signal.aborted) continue;
      const p = runJob(this.d, a, job, this.passes.signal)
        .catch((err) => this.d.log.error({ err, job: job.id }, 'add-on job failed unexpectedly'))
        .finally(() => {
          this.busy.delete(a.id);
          this.nudge();
        });
      this.busy.set(a.id, p);
      this.passes.track(p);
    }
  }
}
