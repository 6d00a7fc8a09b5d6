import type { AppRow } from '../../store/apps.js';
import { appTarget } from '../../store/apps.js';
import { rotateToRelease } from '../../store/containers.js';
import type { ReleaseConfig, ReleaseRow } from '../../store/releases.js';
import { START_CONCURRENCY, Superseded, eachLimited, range, type AppKit } from './kit.js';
import { ensureReplica } from './replicas.js';

/** Steps the rollout strategies share. */

/** Every replica of the release, started together and healthy, none taking traffic yet. */
export async function startSet(k: AppKit, app: AppRow, target: ReleaseRow, cfg: ReleaseConfig): Promise<void> {
  await eachLimited(range(0, cfg.replicas), START_CONCURRENCY, async (i) => void (await ensureReplica(k, app, target, cfg, i, app.restart_seq, false)), k.alsoFailed);
}

/** All traffic to the release's set, away from every other, in one router update. */
export async function switchTo(k: AppKit, app: AppRow, target: ReleaseRow): Promise<void> {
  await checkTarget(k, app, target);
  await rotateToRelease(k.db, app.id, target.id);
  await k.routes.sync();
}

/** Throws Superseded when the app no longer wants this release (a newer deploy, or a stop). */
export async function checkTarget(k: AppKit, app: AppRow, target: ReleaseRow): Promise<void> {
  const cur = await appTarget(k.db, app.id);
  if (!cur || cur.release_id !== target.id || cur.stopped) throw new Superseded();
}
