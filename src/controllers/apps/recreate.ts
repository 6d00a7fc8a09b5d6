import type { AppRow } from '../../store/apps.js';
import * as rows from '../../store/containers.js';
import type { ReleaseConfig, ReleaseRow } from '../../store/releases.js';
import { HealthError } from '../health.js';
import { START_CONCURRENCY, eachLimited, type AppKit } from './kit.js';
import { retire } from './retire.js';
import { startSet, switchTo } from './sets.js';

/** Old replicas stop before new ones start: for apps that cannot run two copies (a single-writer volume). */
export async function recreate(k: AppKit, app: AppRow, target: ReleaseRow, cfg: ReleaseConfig): Promise<void> {
  // The old set leaves and stops together, then the new set starts together: the downtime recreate
  // promises is one stop and one start, not one per replica.
  const old = (await rows.containersOfApp(k.db, app.id)).filter((r) => r.release_id !== target.id);
  await eachLimited(old, START_CONCURRENCY, (r) => retire(k, r), k.alsoFailed);
  try {
    await startSet(k, app, target, cfg);
  } catch (err) {
    // The last good release comes back next (fail() converges it): first the new set goes, so two
    // copies never run side by side, which is what recreate exists to prevent.
    if (err instanceof HealthError) {
      for (const r of await rows.containersOfApp(k.db, app.id)) if (r.release_id === target.id) await retire(k, r);
    }
    throw err;
  }
  await switchTo(k, app, target);
}
