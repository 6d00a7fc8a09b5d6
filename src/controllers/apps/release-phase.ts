import type { AppRow } from '../../store/apps.js';
import type { ReleaseConfig, ReleaseRow } from '../../store/releases.js';
import * as runs from '../../store/runs.js';
import { newId } from '../../lib/ids.js';
import { Canceled, HealthError } from '../health.js';
import { executeRun } from '../runs/execute.js';
import { event, type AppKit } from './kit.js';

/** How long a release command may run before it is killed and its release fails. */
export const RELEASE_COMMAND_TIMEOUT_S = 900;

/**
 * The release phase: a release with a release command runs it once, in a container of the new
 * release, before any of its replicas start, so before any traffic moves. A command that fails
 * (or was cut short by a stop of the control plane) fails the release, which leaves the live
 * release serving untouched. A command that succeeded is not run again when a rollout resumes.
 */
export async function releasePhase(k: AppKit, app: AppRow, target: ReleaseRow, cfg: ReleaseConfig): Promise<void> {
  const command = cfg.release_command ?? [];
  if (!command.length) return;
  let run = await runs.releaseRun(k.db, target.id);
  if (!run) {
    const id = newId('run');
    // Written as running before the container is made: a crash from here on fails the release on start.
    const row = runs.newRun(id, app, target.id, 'release', command, RELEASE_COMMAND_TIMEOUT_S, { status: 'running', created_by: target.created_by });
    await runs.insertRun(k.db, row);
    await event(k, app, 'release.command', `v${target.version}: running the release command ${command.join(' ')}`, { release: target.version, run: id });
    const done = await executeRun(k, row, k.signal);
    if (!done) throw new Canceled();
    run = done;
  }
  if (run.status === 'succeeded') return;
  const why = run.reason ?? `exited with code ${run.exit_code}`;
  // The output stays with the run (developers only): a release's reason and events reach viewers too.
  throw new HealthError(`the release command failed: ${why}; its output is in run ${run.id}`, []);
}
