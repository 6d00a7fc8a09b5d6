import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pack } from 'tar-stream';
import type { ControllerDeps } from '../deps.js';
import type { AddonRow } from '../../store/addons.js';
import * as backups from '../../store/backups.js';
import { now } from '../../store/db.js';
import { backupFile } from '../../domain/backups.js';
import { addonBackupExt } from '../../domain/addons.js';
import { verifyAnswer, verifyFailure, verifyFileInside, verifySpec } from '../../domain/addon-verify.js';
import { lastLogLines } from '../health.js';
import { tell } from '../tell.js';
import type { Passes } from '../passes.js';
import type { ContainerSpec } from '../../runtime/types.js';

const VERIFY_TIMEOUT_MS = 30 * 60_000;

/**
 * Restore checks of add-on backups (domain/addon-verify.ts): each backup whose check is pending is
 * restored into a throwaway container and asked its add-on's query; the result goes on the backup
 * row, an event tells it (addon.backup.verified or addon.backup.verify_failed: the second is sent to
 * the notification targets of the apps the add-on is attached to). One check at a time on the whole
 * server: each is a database server of its own (256 MB). A check a stop cut short stays pending and
 * is run again after the start, its container removed first (it carries the job helpers' label).
 */
export class VerifyWork {
  private current: Promise<unknown> | null = null;

  constructor(
    private readonly d: ControllerDeps,
    private readonly passes: Passes,
  ) {}

  pass(addons: AddonRow[]): void {
    if (this.current || this.passes.signal.aborted) return;
    const p = this.next(addons)
      .then((did) => did && this.passes.nudge()) // the next pending one, on the next pass
      .catch((err) => this.d.log.error({ err }, 'backup verification failed unexpectedly'))
      .finally(() => {
        this.current = null;
      });
    this.current = p;
    this.passes.track(p);
  }

  /** Checks the oldest pending backup; false when there was none. */
  private async next(addons: AddonRow[]): Promise<boolean> {
    for (const job of await backups.pendingVerifications(this.d.db)) {
      const a = addons.find((x) => x.id === job.addon_id);
      if (!a) continue; // deleted: its rows go with it
      await this.verify(a, job);
      return true;
    }
    return false;
  }

  private async verify(a: AddonRow, job: backups.BackupJobRow): Promise<void> {
    const started = Date.now();
    const ext = addonBackupExt(a.type);
    const inside = verifyFileInside(ext);
    const file = backupFile(this.d.config.dataDir, { kind: 'addon', id: a.id }, job.id, ext);
    const r = await runCheck(this.d, verifySpec(this.d.secrets, this.d.instanceId, a, job.id, inside), { file, inside }, this.passes.signal, (code, lines) => verifyFailure(a.type, code, lines));
    if (!r) return; // stopping: still pending, run again after the start
    const { answer, error } = r;
    const ms = Date.now() - started;
    // The row may have gone meanwhile (pruned, or its add-on deleted): then nothing is told.
    if (!(await backups.jobById(this.d.db, job.id))) return;
    await backups.updateJob(this.d.db, job.id, { verify_status: error ? 'failed' : 'ok', verify_answer: answer, verify_error: error, verify_ms: ms, verified_at: now() });
    const data = { addon: a.id, backup: job.id, answer, duration_ms: ms, error };
    await tell(this.d, error
      ? { actor: { system: 'addons' }, project_id: a.project_id, kind: 'addon.backup.verify_failed', message: `backup ${job.id} of ${a.name} did not restore: ${error.slice(0, 500)}`, data }
      : { actor: { system: 'addons' }, project_id: a.project_id, kind: 'addon.backup.verified', message: `backup ${job.id} of ${a.name} restored and answered ${JSON.stringify(answer!.slice(0, 200))} in ${(ms / 1000).toFixed(1)} s`, data });
  }
}

/**
 * Runs one throwaway container to its end (the file copied in first, when given) and reads its
 * answer; removes it in every case but a stop (the next start removes it). null: `stopping` aborted.
 */
export async function runCheck(
  d: ControllerDeps,
  spec: ContainerSpec,
  copy: { file: string; inside: string } | null,
  stopping: AbortSignal,
  failure: (code: number, lines: string[]) => string,
): Promise<{ answer: string | null; error: string | null } | null> {
  const signal = AbortSignal.any([stopping, AbortSignal.timeout(VERIFY_TIMEOUT_MS)]);
  let id: string | null = null;
  try {
    const size = copy ? await stat(copy.file).then((s) => s.size, () => null) : 0;
    if (size === null) throw new Error('the backup file is missing from the data directory');
    id = await d.runs.createContainer(spec);
    if (copy) {
      const p = pack();
      const entry = p.entry({ name: copy.inside.split('/').pop()!, size, mode: 0o644 });
      const copying = d.runs.copyTo(id, dirname(copy.inside), p as unknown as NodeJS.ReadableStream, signal);
      await pipeline(createReadStream(copy.file), entry);
      p.finalize();
      await copying;
    }
    await d.runs.startContainer(id);
    const code = await d.runs.waitContainer(id, signal);
    const lines = await lastLogLines(d.runs, id, 40);
    if (code !== 0) throw new Error(failure(code, lines));
    const answer = verifyAnswer(lines);
    if (answer === null) throw new Error('the check printed no answer');
    return { answer, error: null };
  } catch (err) {
    if (stopping.aborted) return null;
    return { answer: null, error: (err as Error).message.slice(0, 2000) };
  } finally {
    if (id && !stopping.aborted) await d.runs.removeContainer(id).catch((err) => d.log.warn({ err, container: id }, 'verification container removal failed'));
  }
}
