import type { ControllerDeps } from '../deps.js';
import { LABEL } from '../../runtime/labels.js';
import * as runs from '../../store/runs.js';
import { executeRun } from './execute.js';
import { fireDue } from './cron.js';
import { Passes } from '../passes.js';

/**
 * One-off and scheduled commands (`berth run`, `berth cron`): the API (or the schedule) writes a
 * `queued` run; this controller runs it. On
 * start, before anything runs, it settles what a stopped control plane left: a run that was
 * running is marked failed with the reason, and every run container is removed.
 */
export class RunController {
  private readonly active = new Map<string, Promise<unknown>>();

  constructor(
    private readonly d: ControllerDeps,
    intervalMs = 1_000,
  ) {
    this.passes = new Passes(() => this.pickUp(), (err) => this.d.log.warn({ err }, 'picking up runs failed'), intervalMs);
  }

  /** Call before the app controller starts: release commands cut short fail their release. */
  async recover(): Promise<void> {
    for (const r of await runs.runsWithStatus(this.d.db, 'running')) {
      await runs.finishRun(this.d.db, r.id, 'failed', null, 'the control plane stopped while it ran: the command may have been cut short');
      this.d.log.warn({ run: r.id }, 'marked a run failed: the control plane stopped while it ran');
    }
    // Nothing runs yet in this process: every run container is a leftover.
    for (const c of await this.d.runs.listContainers({ [LABEL.instance]: this.d.instanceId })) {
      if (c.labels[LABEL.run]) await this.d.runs.removeContainer(c.id);
    }
  }

  start(): void {
    this.passes.start();
  }

  stop(): Promise<void> {
    return this.passes.stop();
  }

  private readonly passes: Passes;

  /** Fires due schedules and starts every queued command (one pass at a time, so a firing is acted on once). */
  nudge(): void {
    this.passes.nudge();
  }

  private async pickUp(): Promise<void> {
    await fireDue(this.d, new Date());
    for (const r of await runs.runsWithStatus(this.d.db, 'queued')) {
      if (r.kind === 'release' || this.active.has(r.id) || this.passes.signal.aborted) continue;
      const p = executeRun(this.d, r, this.passes.signal)
        .catch((err) => this.d.log.error({ err, run: r.id }, 'run failed unexpectedly'))
        .finally(() => this.active.delete(r.id));
      this.active.set(r.id, p);
      this.passes.track(p);
    }
  }
}
