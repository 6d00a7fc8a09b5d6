import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ControllerDeps } from '../deps.js';
import type { Passes } from '../passes.js';
import { LABEL } from '../../runtime/labels.js';
import * as store from '../../store/backups.js';
import { backupDir } from '../../domain/backups.js';
import { runJob } from './jobs.js';
import { dueBackups } from './schedule.js';
import type { BackupTarget } from './target.js';

/**
 * The backups and restores of one kind of owner (add-ons or volumes), run by that kind's
 * controller on its passes: scheduled ones queued, queued ones started, one at a time per owner.
 * On start, jobs a stop cut short are marked failed with the reason and their helpers removed.
 */
export class BackupRunner {
  private readonly busy = new Map<string, Promise<void>>();

  constructor(
    private readonly d: ControllerDeps,
    private readonly kind: store.BackupOwnerKind,
    /** The label the kind's helper containers carry (its value: the job id). */
    private readonly helperLabel: string,
    private readonly passes: Passes,
    /** Told when a job has ended (the volume controller wakes the apps a restore held back). */
    private readonly ended: (job: store.BackupJobRow) => void = () => {},
  ) {}

  /** True while a job of this owner runs. */
  running(ownerId: string): boolean {
    return this.busy.has(ownerId);
  }

  async recover(): Promise<void> {
    for (const j of await store.jobsWithStatus(this.d.db, this.kind, 'running')) {
      await store.updateJob(this.d.db, j.id, { status: 'failed', reason: `the control plane stopped during the ${j.kind}`, finished_at: new Date().toISOString() });
      this.d.log.warn({ job: j.id }, `marked a ${this.kind} ${j.kind} failed: the control plane stopped during it`);
    }
    for (const c of await this.d.runs.listContainers({ [LABEL.instance]: this.d.instanceId })) {
      if (c.labels[this.helperLabel]) await this.d.runs.removeContainer(c.id);
    }
  }

  /** Queues the scheduled backups that are due, then starts the queued jobs whose owner is free. */
  async pass(targets: BackupTarget[]): Promise<void> {
    await dueBackups(this.d, targets, new Date());
    for (const job of await store.jobsWithStatus(this.d.db, this.kind, 'queued')) {
      const t = targets.find((x) => x.owner.id === store.ownerOf(job).id);
      if (!t || !t.ready || this.busy.has(t.owner.id) || this.passes.signal.aborted) continue;
      const p = runJob(this.d, t, job, this.passes.signal)
        .catch((err) => this.d.log.error({ err, job: job.id }, 'backup job failed unexpectedly'))
        .finally(() => {
          this.busy.delete(t.owner.id);
          this.passes.nudge();
          this.ended(job);
        });
      this.busy.set(t.owner.id, p);
      this.passes.track(p);
    }
  }

  /** The backup files of owners that are gone (their rows went with them). */
  async removeDeleted(known: Set<string>): Promise<void> {
    const dir = backupDir(this.d.config.dataDir, this.kind);
    for (const id of await readdir(dir).catch(() => [] as string[])) {
      if (!known.has(id)) await rm(join(dir, id), { recursive: true, force: true });
    }
  }
}
