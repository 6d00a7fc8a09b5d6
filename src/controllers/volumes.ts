import type { AppNudge, ControllerDeps } from './deps.js';
import { LABEL } from '../runtime/labels.js';
import { allVolumes, type VolumeRow } from '../store/volumes.js';
import { engineVolume } from '../domain/volumes.js';
import { VOLUME_JOB_LABEL, volumeJobSpec, volumeUsageSpec } from '../domain/volume-jobs.js';
import { BackupRunner } from './backups/runner.js';
import type { BackupTarget } from './backups/target.js';
import { lastLogLines } from './health.js';
import { Passes } from './passes.js';

const USAGE_TIMEOUT_MS = 120_000;
const USAGE_TTL_MS = 30_000;

/**
 * Volumes: removes the engine volumes of deleted Berth volumes, and runs their backups and
 * restores (tar snapshots in a root helper with no network) on the shared backup runner.
 * Deleting a volume (or an app with --with-volumes) only deletes its row; the engine volume goes
 * here, once no container uses it (the engine refuses before), so a volume is never pulled from
 * under a running replica.
 */
export class VolumeController {
  private readonly passes: Passes;
  private readonly backups: BackupRunner;
  private readonly measured = new Map<string, { at: number; value: Promise<number | null> }>();

  constructor(
    private readonly ctx: ControllerDeps,
    /** Apps whose replicas waited for a restore of their volume start once it ends. */
    apps?: AppNudge,
    intervalMs = 5_000,
  ) {
    this.passes = new Passes(() => this.pass(), (err) => this.ctx.log.warn({ err }, 'volume pass failed'), intervalMs);
    this.backups = new BackupRunner(ctx, 'volume', VOLUME_JOB_LABEL, this.passes, (job) => {
      if (job.kind === 'restore') apps?.nudge();
    });
  }

  /** Backups and restores a stop cut short: failed with the reason, helpers removed. */
  recover(): Promise<void> {
    return this.backups.recover();
  }

  start(): void {
    this.passes.start();
  }

  stop(): Promise<void> {
    return this.passes.stop();
  }

  nudge(): void {
    this.passes.nudge();
  }

  private async pass(): Promise<void> {
    await this.sweep();
    const rows = await allVolumes(this.ctx.db);
    await this.backups.removeDeleted(new Set(rows.map((v) => v.id)));
    await this.backups.pass(rows.map((v) => this.target(v)));
  }

  /** One sweep: returns the engine volumes removed. */
  async sweep(): Promise<string[]> {
    const known = new Set((await allVolumes(this.ctx.db)).map((v) => v.id));
    const removed: string[] = [];
    for (const name of await this.ctx.volumes.listVolumes({ [LABEL.instance]: this.ctx.instanceId })) {
      const id = name.replace(/^berth-vol-/, 'vol_');
      if (!name.startsWith('berth-vol-') || known.has(id)) continue;
      if (await this.ctx.volumes.removeVolume(name)) {
        removed.push(name);
        this.ctx.log.info({ volume: name }, 'removed the engine volume of a deleted volume');
      }
    }
    return removed;
  }

  /**
   * Bytes the volume uses on disk (du in a read-only helper); null when no app has mounted it yet
   * (there is no engine volume to measure). A measurement serves every caller for USAGE_TTL_MS and
   * callers meanwhile share the one under way: a GET must not be able to start a container per call.
   */
  usage(v: Pick<VolumeRow, 'id' | 'project_id'>): Promise<number | null> {
    const now = Date.now();
    for (const [id, m] of this.measured) if (now - m.at > USAGE_TTL_MS) this.measured.delete(id);
    const hit = this.measured.get(v.id);
    if (hit) return hit.value;
    const value = this.measure(v);
    this.measured.set(v.id, { at: now, value });
    // A failed measurement is not kept: the next caller tries again.
    value.catch(() => this.measured.delete(v.id));
    return value;
  }

  private async measure(v: Pick<VolumeRow, 'id' | 'project_id'>): Promise<number | null> {
    const { runs, volumes, instanceId } = this.ctx;
    if (!(await volumes.listVolumes({ [LABEL.instance]: instanceId, [LABEL.volume]: v.id })).length) return null;
    const id = await runs.createHelper(volumeUsageSpec(instanceId, v));
    try {
      await runs.startContainer(id);
      const code = await runs.waitContainer(id, AbortSignal.timeout(USAGE_TIMEOUT_MS));
      const [line] = await lastLogLines(runs, id, 1);
      if (code !== 0 || !line) throw new Error(`du exited with code ${code}${line ? `: ${line}` : ''}`);
      return Number.parseInt(line, 10);
    } finally {
      await runs.removeContainer(id).catch(() => {});
    }
  }

  /**
   * A volume as the backup runner sees it. A restore replaces every file, so no running container
   * may have the volume mounted: the API refuses while an app mounting it is not stopped, and this
   * check, just before the helper starts, catches what started since (a one-off command...).
   */
  private target(v: VolumeRow): BackupTarget {
    const { runs, volumes, instanceId } = this.ctx;
    return {
      owner: { kind: 'volume', id: v.id },
      project_id: v.project_id,
      name: `volume ${v.name}`,
      ready: true,
      backup_schedule: v.backup_schedule,
      backup_keep: v.backup_keep,
      created_at: v.created_at,
      ext: 'tar',
      tool: (restore) => (restore ? 'tar -x' : 'tar -c'),
      helper: (jobId, inside, restore) => runs.createHelper(volumeJobSpec(instanceId, v, jobId, inside, restore)),
      beforeRestore: async () => {
        // Not the alerts' read-only size measurement (du): it may be reading the volume just now.
        const users = await volumes.volumeUsers(engineVolume(v.id), { [VOLUME_JOB_LABEL]: 'usage' });
        if (users.length) throw new Error(`volume "${v.name}" is in use by running container(s) ${users.join(', ')}: stop the apps that mount it (berth apps stop APP), then restore`);
        return null;
      },
    };
  }
}
