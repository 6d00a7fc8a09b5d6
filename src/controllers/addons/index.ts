import type { ControllerDeps } from '../deps.js';
import { tell } from '../tell.js';
import { LABEL } from '../../runtime/labels.js';
import * as store from '../../store/addons.js';
import { ADDON_JOB_LABEL, ADDON_SESSION_LABEL } from '../../domain/addons.js';
import { ensureAddon, removeDeleted } from './servers.js';
import { addonTarget } from './backup-target.js';
import { BackupRunner } from '../backups/runner.js';
import { Passes } from '../passes.js';
import { openSession } from './session.js';
import { PitrWork } from './pitr.js';
import { VerifyWork } from './verify.js';
import type { AddonSession, SessionOptions } from '../../domain/addon-session.js';

/**
 * Managed add-ons: keeps each add-on's server running, removes what deleted ones left, and runs
 * backup and restore jobs, one at a time per add-on, and point-in-time recovery's base backups and
 * fork restores (pitr.ts), and the restore checks of its backups (verify.ts). On start, jobs a stop cut short are marked
 * failed with the reason and their helper containers removed (and those of interactive sessions),
 * before anything else runs.
 */
export class AddonController {
  private readonly passes: Passes;
  private readonly backups: BackupRunner;
  private readonly pitr: PitrWork;
  private readonly verify: VerifyWork;

  constructor(
    private readonly d: ControllerDeps,
    intervalMs = 3_000,
  ) {
    this.passes = new Passes(() => this.pass(), (err) => this.d.log.warn({ err }, 'add-on pass failed'), intervalMs);
    this.backups = new BackupRunner(d, 'addon', ADDON_JOB_LABEL, this.passes);
    this.pitr = new PitrWork(d, this.passes);
    this.verify = new VerifyWork(d, this.passes);
  }

  async recover(): Promise<void> {
    await this.backups.recover();
    for (const c of await this.d.runs.listContainers({ [LABEL.instance]: this.d.instanceId })) {
      // A psql or redis-cli session's helper lives only as long as its socket: none is left from before the stop.
      if (c.labels[ADDON_SESSION_LABEL]) await this.d.runs.removeContainer(c.id);
    }
  }

  start(): void {
    this.passes.start();
  }

  stop(): Promise<void> {
    return this.passes.stop();
  }

  /** A psql or redis-cli session on an add-on (session.ts); a stop ends it, and waits for its helper to be removed. */
  async session(a: store.AddonRow, o: SessionOptions, signal: AbortSignal): Promise<AddonSession> {
    const s = await openSession(this.d, a, o, AbortSignal.any([signal, this.passes.signal]));
    this.passes.track(s.done.catch(() => {}));
    return s;
  }

  /** A pass soon (now, unless one runs; then once more after it). */
  nudge(): void {
    this.passes.nudge();
  }

  private async pass(): Promise<void> {
    const addons = await store.allAddons(this.d.db);
    const known = new Set(addons.map((a) => a.id));
    await removeDeleted(this.d, known);
    await this.backups.removeDeleted(known);
    for (const a of addons) {
      if (this.passes.signal.aborted) return;
      // A job under way may have stopped the server on purpose (a Redis restore); it starts it again.
      if (this.backups.running(a.id)) continue;
      // A fork's server starts once its data is restored (pitr.ts).
      if (this.pitr.holds(a)) continue;
      await ensureAddon(this.d, a).catch(async (err) => {
        this.d.log.warn({ err, addon: a.id }, 'add-on could not be started');
        await store.updateAddon(this.d.db, a.id, { status: 'failed', message: (err as Error).message.slice(0, 2000) });
        if (a.status !== 'failed') await tell(this.d, { actor: { system: 'addons' }, project_id: a.project_id, kind: 'addon.failed', message: `add-on ${a.name} could not be started: ${(err as Error).message.slice(0, 500)}`, data: { addon: a.id } });
      });
    }
    // A dump or restore job and point-in-time work (a base backup, a rewind) never run on one add-on at once.
    await this.backups.pass(addons.filter((a) => !this.pitr.running(a.id) && !this.pitr.holds(a)).map((a) => addonTarget(this.d, a)));
    await this.pitr.pass(addons, (id) => this.backups.running(id));
    // Checks read a backup file into a throwaway container: they leave the add-on itself alone.
    this.verify.pass(addons);
  }
}
