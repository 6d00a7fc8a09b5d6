import { appById, type AppRow } from '../../store/apps.js';
import * as rows from '../../store/containers.js';
import { markFailed, markLive, releaseById, releaseConfig, setReleaseStatus, type ReleaseConfig, type ReleaseRow } from '../../store/releases.js';
import { networkLabels, projectNetwork } from '../../domain/containers.js';
import { HealthError } from '../health.js';
import { Superseded, event, type AppKit } from './kit.js';
import { retire } from './retire.js';
import { converge } from './converge.js';
import { rolling } from './rolling.js';
import { blueGreen } from './blue-green.js';
import { recreate } from './recreate.js';
import { ensureImage } from './pull.js';
import { releasePhase } from './release-phase.js';
import { convergeProcesses } from './processes.js';
import { checkTarget } from './sets.js';

type Strategy = (k: AppKit, app: AppRow, target: ReleaseRow, cfg: ReleaseConfig) => Promise<void>;

/** One function per strategy; a strategy without one does not compile. */
const STRATEGIES: Record<ReleaseConfig['strategy'], Strategy> = { rolling, 'blue-green': blueGreen, recreate };

/**
 * Rolls the target release out with its strategy, then makes it live; a replica that is not
 * healthy in time fails it, and the app goes back to the live release.
 */
export async function rollout(k: AppKit, app: AppRow, target: ReleaseRow): Promise<void> {
  const cfg = releaseConfig(target);
  if (target.status === 'pending') {
    await setReleaseStatus(k.db, target.id, 'deploying', null, k.fence);
    await event(k, app, 'release.deploying', `v${target.version} is rolling out (${cfg.strategy})`, { release: target.version });
  }
  await k.networks.ensureNetwork(projectNetwork(app.project_id), networkLabels(k.instanceId, app.project_id));
  try {
    // Leftovers of an earlier, abandoned rollout take no traffic; clear them first.
    for (const r of await rows.containersOfApp(k.db, app.id)) {
      if (r.release_id !== target.id && r.release_id !== app.live_release_id) await retire(k, r);
    }
    const note = await ensureImage(k, app, target);
    await releasePhase(k, app, target, cfg);
    await STRATEGIES[cfg.strategy](k, app, target, cfg);
    // The other process types follow web: the strategy retired the old release's (or keeps them until
    // converge does); the new ones start now, with no health check to pass.
    await checkTarget(k, app, target);
    await convergeProcesses(k, app, target, cfg, true);
    await goLive(k, app, target, note);
  } catch (err) {
    if (err instanceof Superseded) {
      await setReleaseStatus(k.db, target.id, 'superseded', 'a newer deploy replaced it before it went live', k.fence);
      return;
    }
    if (!(err instanceof HealthError)) throw err;
    await fail(k, app, target, err);
  }
}

async function goLive(k: AppKit, app: AppRow, target: ReleaseRow, note: string | null): Promise<void> {
  await markLive(k.db, app.id, target, note, k.fence);
  await event(k, app, 'release.live', `v${target.version} is live`, { release: target.version });
  // Remove what the new release replaced (blue-green keeps the previous set stopped, for a fast rollback).
  await converge(k, { ...app, live_release_id: target.id }, target);
}

async function fail(k: AppKit, app: AppRow, target: ReleaseRow, err: HealthError): Promise<void> {
  const tail = err.logTail.length ? `\n--- last log lines ---\n${err.logTail.join('\n')}` : '';
  const reason = `${err.message}${tail}`;
  // The app goes back to the release that was serving; its replicas were never touched, or are restored first.
  await markFailed(k.db, app.id, target.id, reason, app.live_release_id, k.fence);
  const fresh = await appById(k.db, app.id);
  const live = fresh?.live_release_id ? await releaseById(k.db, fresh.live_release_id) : undefined;
  // "Rolled back" only when there was something to go back to.
  const outcome = live ? `failed; v${live.version} keeps serving` : 'failed; no release was live before it, so the app serves nothing';
  await event(k, app, 'release.failed', `v${target.version} ${outcome}: ${err.message}`, { release: target.version, reason });
  if (fresh && live) await converge(k, fresh, live);
  else for (const r of await rows.containersOfApp(k.db, app.id)) await retire(k, r);
}
