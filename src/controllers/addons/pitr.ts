import type { ControllerDeps } from '../deps.js';
import type { AddonRow } from '../../store/addons.js';
import * as store from '../../store/addons.js';
import { RESTORE_UNDONE, baseBackupDue, baseBackupSpec, helperResult, restoreSpec, windowStart } from '../../domain/addon-pitr.js';
import { newId } from '../../lib/ids.js';
import { LABEL } from '../../runtime/labels.js';
import { ADDON_ARCHIVE_LABEL, ADDON_LABEL } from '../../domain/addons.js';
import { lastLogLines } from '../health.js';
import { tell } from '../tell.js';
import { runCheck } from './verify.js';
import { baseVerifySpec, verifyFailure } from '../../domain/addon-verify.js';
import type { BaseBackupCheck } from '../../store/addons.js';
import type { Passes } from '../passes.js';
import type { ContainerSpec } from '../../runtime/types.js';

const HELPER_TIMEOUT_MS = 60 * 60_000;

/** A helper that ended with a non-zero code: the code, and its last lines in the message. */
class HelperFailed extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}
/** After a failed base backup, the next try waits this long (the first failure of a run of them is told). */
const RETRY_MS = 60_000;

/**
 * Point-in-time recovery's work for the add-on controller: base backups of running PostgreSQL
 * add-ons (when due: domain/addon-pitr.ts) and the restore of a new fork, which holds back the
 * fork's own server until its data is in place. One helper at a time per add-on; a helper a stop
 * cut short is removed on the next start with the other job helpers (it carries ADDON_JOB_LABEL),
 * and the work is done again: a base backup when due, a fork restore from an empty directory.
 */
export class PitrWork {
  private readonly busy = new Map<string, Promise<void>>();
  private readonly failedAt = new Map<string, number>();

  constructor(
    private readonly d: ControllerDeps,
    private readonly passes: Passes,
  ) {}

  /** True while the add-on is a fork whose data is not restored yet, or is being restored in place: its server must not start. */
  holds(a: AddonRow): boolean {
    return (a.fork_of !== null && a.recovered_to === null) || (a.rewind_target !== null && a.rewound_to === null);
  }

  running(id: string): boolean {
    return this.busy.has(id);
  }

  /** `skip`: add-ons busy with other work (a dump or restore job) this pass leaves alone. */
  async pass(addons: AddonRow[], skip: (id: string) => boolean = () => false): Promise<void> {
    const at = new Date(this.d.clock.now());
    // A server made before archiving existed has no archive volume: nothing to back up until it is made again.
    const archiving = new Set((await this.d.runs.listContainers({ [LABEL.instance]: this.d.instanceId, [ADDON_ARCHIVE_LABEL]: '1' })).map((c) => c.labels[ADDON_LABEL]));
    for (const a of addons) {
      if (a.type !== 'postgres' || this.busy.has(a.id) || skip(a.id) || this.passes.signal.aborted) continue;
      // The rows were read at the start of the add-on controller's pass, before its other work: a
      // restore or base backup of this add-on that ended meanwhile must not run again on a stale row
      // (a rewind done twice loses the writes made after the first). Each starts on the row as it is now.
      if (this.holds(a)) {
        if (a.status !== 'creating') continue; // failed: told, not retried
        this.start(a.id, async () => {
          const now = await store.addonById(this.d.db, a.id);
          if (!now || now.status !== 'creating' || !this.holds(now)) return;
          if (now.fork_of !== null && now.recovered_to === null) return this.restoreFork(now, await store.addonById(this.d.db, now.fork_of));
          return this.restoreInPlace(now);
        });
      } else if (a.status === 'running' && archiving.has(a.id) && baseBackupDue(a, at) && at.getTime() - (this.failedAt.get(a.id) ?? 0) >= RETRY_MS) {
        this.start(a.id, async () => {
          const now = await store.addonById(this.d.db, a.id);
          if (now?.status === 'running' && !this.holds(now) && baseBackupDue(now, at)) await this.baseBackup(now);
        });
      }
    }
  }

  private start(id: string, work: () => Promise<void>) {
    const p = work()
      .catch((err) => this.d.log.error({ err, addon: id }, 'point-in-time recovery work failed unexpectedly'))
      .finally(() => {
        this.busy.delete(id);
        this.passes.nudge();
      });
    this.busy.set(id, p);
    this.passes.track(p);
  }

  /** Runs a helper to its end; its result line, or throws with its last lines. */
  private async helper(spec: ContainerSpec, what: string): Promise<string | null> {
    return helperResult(await this.helperLines(spec, what));
  }

  /**
   * A restore's result line, the line PostgreSQL logged where it stopped (kept with the event: the
   * evidence of the target reached) and the base backup and timeline it started from and followed.
   */
  private async restore(spec: ContainerSpec): Promise<{ point: string | null; stop: string | null; from: { base_backup: string; timeline: number } | null }> {
    const lines = await this.helperLines(spec, 'the restore');
    const from = lines.map((l) => /^restoring base backup (\S+), following timeline (\d+)$/.exec(l)).find((m) => m !== null);
    return { point: helperResult(lines), stop: lines.find((l) => l.startsWith('recovery stopping before ')) ?? null, from: from ? { base_backup: from[1]!, timeline: Number(from[2]) } : null };
  }

  private async helperLines(spec: ContainerSpec, what: string): Promise<string[]> {
    const signal = AbortSignal.any([this.passes.signal, AbortSignal.timeout(HELPER_TIMEOUT_MS)]);
    const id = await this.d.runs.createContainer(spec);
    try {
      await this.d.runs.startContainer(id);
      const code = await this.d.runs.waitContainer(id, signal);
      const lines = await lastLogLines(this.d.runs, id, 40);
      if (code !== 0) throw new HelperFailed(`${what} exited with code ${code}: ${lines.slice(-10).join('\n')}`, code);
      return lines;
    } finally {
      if (!this.passes.signal.aborted) await this.d.runs.removeContainer(id).catch(() => {});
    }
  }

  private async baseBackup(a: AddonRow): Promise<void> {
    try {
      const info = await this.helper(baseBackupSpec(this.d.secrets, this.d.instanceId, a, newId('pitr')), 'pgbackrest backup');
      if (!info) throw new Error('pgbackrest info printed nothing');
      const baseAt = new Date(this.d.clock.now()).toISOString();
      await store.updateAddon(this.d.db, a.id, { pitr_base_at: baseAt, pitr_earliest: windowStart(info) });
      this.failedAt.delete(a.id);
      this.d.log.info({ addon: a.id }, 'base backup taken');
      // In the same slot: no expiry of the next base backup can remove what the check restores.
      await this.checkBase(a, baseAt);
    } catch (err) {
      if (this.passes.signal.aborted) return;
      const again = this.failedAt.has(a.id);
      this.failedAt.set(a.id, this.d.clock.now());
      const reason = (err as Error).message.slice(0, 500);
      this.d.log.warn({ err, addon: a.id }, 'base backup failed');
      if (!again) await tell(this.d, { actor: { system: 'addons' }, project_id: a.project_id, kind: 'addon.base_backup.failed', message: `base backup of ${a.name} failed: ${reason}`, data: { addon: a.id } });
    }
  }

  /** Restores the newest base backup into a throwaway container and asks the add-on's query (domain/addon-verify.ts). */
  private async checkBase(a: AddonRow, baseAt: string): Promise<void> {
    const started = Date.now();
    const r = await runCheck(this.d, baseVerifySpec(this.d.secrets, this.d.instanceId, a, newId('vfy')), null, this.passes.signal, (code, lines) => verifyFailure('postgres', code, lines, true));
    if (!r) return;
    const check: BaseBackupCheck = { status: r.error ? 'failed' : 'ok', answer: r.answer, error: r.error, duration_ms: Date.now() - started, at: new Date().toISOString(), base_at: baseAt };
    await store.updateAddon(this.d.db, a.id, { pitr_verified: JSON.stringify(check) });
    const data = { addon: a.id, ...check };
    await tell(this.d, r.error
      ? { actor: { system: 'addons' }, project_id: a.project_id, kind: 'addon.base_backup.verify_failed', message: `base backup of ${a.name} (${baseAt}) did not restore: ${r.error.slice(0, 500)}`, data }
      : { actor: { system: 'addons' }, project_id: a.project_id, kind: 'addon.base_backup.verified', message: `base backup of ${a.name} restored and answered ${JSON.stringify(r.answer!.slice(0, 200))} in ${(check.duration_ms / 1000).toFixed(1)} s`, data });
  }

  private async restoreFork(fork: AddonRow, source: AddonRow | undefined): Promise<void> {
    try {
      if (!source) throw new Error('its source add-on was deleted before the restore');
      const { point, stop, from } = await this.restore(restoreSpec(this.d.secrets, this.d.instanceId, fork, source, fork.fork_target!, 'fork', newId('pitr')));
      // No transaction was replayed: nothing committed between the base backup and the target, so the data is as at the target.
      // Kept as PostgreSQL printed it (UTC, to the microsecond): a Date would round it to the millisecond.
      const recovered = point && !Number.isNaN(Date.parse(point)) ? point : fork.fork_target!;
      await store.updateAddon(this.d.db, fork.id, { recovered_to: recovered, message: null });
      await tell(this.d, { actor: { system: 'addons' }, project_id: fork.project_id, kind: 'addon.restored', message: `${fork.name} restored from ${source.name} to ${recovered}`, data: { addon: fork.id, recovered_to: recovered, stopped: stop, ...from } });
    } catch (err) {
      if (this.passes.signal.aborted) return;
      const reason = (err as Error).message.slice(0, 2000);
      await store.updateAddon(this.d.db, fork.id, { status: 'failed', message: `restore failed: ${reason}` });
      await tell(this.d, { actor: { system: 'addons' }, project_id: fork.project_id, kind: 'addon.failed', message: `fork ${fork.name} could not be restored: ${reason.slice(0, 500)}`, data: { addon: fork.id } });
    }
  }

  /**
   * An in-place restore: the add-on's current WAL is closed and archived while its server still
   * runs, the server is removed (the pass makes it again once the data is back), then its data
   * volume is restored from its own archive. It never goes back to less than was asked for: a
   * server that does not answer (its newest WAL cannot be archived), an archive that lags, or a
   * recovery that does not reach the target leave the add-on as it was (its data put back when it
   * had been set aside), serving, with the reason in its message and no rewind. Any other failure
   * leaves the add-on failed with the reason and the data it had in /data/pgdata.before-restore;
   * another restore may be asked for.
   */
  private async restoreInPlace(a: AddonRow): Promise<void> {
    const target = a.rewind_target!;
    let serverRemoved = false;
    try {
      const servers = await this.d.runs.listContainers({ [LABEL.instance]: this.d.instanceId, [ADDON_LABEL]: a.id });
      if (servers.some((c) => c.state === 'running')) {
        await this.helper(restoreSpec(this.d.secrets, this.d.instanceId, a, a, target, 'switch', newId('pitr')), 'closing the current WAL segment');
      } else {
        // No server runs: an earlier try was cut short (a crash) after it closed the WAL and removed
        // the server, and its data directory may be half restored (the data it replaced is set aside
        // under a marker). The restore goes on from the archive: it reaches the target, or puts the
        // data set aside back. Making the server again here would serve the half-restored directory.
        this.d.log.warn({ addon: a.id }, 'in-place restore: no server runs (an earlier try was cut short); restoring from the archive');
      }
      serverRemoved = true;
      for (const c of servers) {
        await this.d.runs.stopContainer(c.id, 30);
        await this.d.runs.removeContainer(c.id);
      }
      const { point, stop, from } = await this.restore(restoreSpec(this.d.secrets, this.d.instanceId, a, a, target, 'in-place', newId('pitr')));
      const recovered = point && !Number.isNaN(Date.parse(point)) ? point : target;
      // The old timeline's base backups stay usable up to the branch point; a new one starts the new timeline's.
      await store.updateAddon(this.d.db, a.id, { rewound_to: recovered, message: null, pitr_base_at: null });
      await tell(this.d, { actor: { system: 'addons' }, project_id: a.project_id, kind: 'addon.restored', message: `${a.name} restored in place to ${recovered}`, data: { addon: a.id, recovered_to: recovered, stopped: stop, ...from } });
    } catch (err) {
      if (this.passes.signal.aborted) return;
      const reason = (err as Error).message.slice(0, 2000);
      if (!serverRemoved || (err instanceof HelperFailed && err.code === RESTORE_UNDONE)) {
        // Nothing changed (failed before the server was removed, or the restore put the data back):
        // no rewind is pending, the server serves its data (made again by the next pass if it was
        // removed); `running` now, so that the message stays for the caller who waits on the status.
        const message = `in-place restore to ${target} was not done, nothing changed: ${reason}`;
        await store.updateAddon(this.d.db, a.id, { rewind_target: null, rewound_to: null, status: 'running', message });
        await tell(this.d, { actor: { system: 'addons' }, project_id: a.project_id, kind: 'addon.failed', message: `in-place restore of ${a.name} was not done, nothing changed: ${reason.slice(0, 500)}`, data: { addon: a.id } });
        return;
      }
      await store.updateAddon(this.d.db, a.id, { status: 'failed', message: `in-place restore failed (the data it replaced is kept in its volume, pgdata.before-restore): ${reason}` });
      await tell(this.d, { actor: { system: 'addons' }, project_id: a.project_id, kind: 'addon.failed', message: `in-place restore of ${a.name} failed: ${reason.slice(0, 500)}`, data: { addon: a.id } });
    }
  }
}
