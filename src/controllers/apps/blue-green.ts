import type { AppRow } from '../../store/apps.js';
import * as rows from '../../store/containers.js';
import type { ReleaseConfig, ReleaseRow } from '../../store/releases.js';
import { STOP_GRACE_S, WEB } from '../../domain/containers.js';
import type { AppKit } from './kit.js';
import { startSet, switchTo } from './sets.js';

/** The whole new set starts and passes its checks, then traffic moves in one router update. */
export async function blueGreen(k: AppKit, app: AppRow, target: ReleaseRow, cfg: ReleaseConfig): Promise<void> {
  await startSet(k, app, target, cfg);
  await switchTo(k, app, target);
  // The old set is kept, stopped, so rolling back to it is fast. Its other process types (workers)
  // run on until the new ones are up, then converge retires them: nothing to switch for them.
  for (const r of await rows.containersOfApp(k.db, app.id)) {
    if (r.release_id !== target.id && r.status !== 'stopped' && r.process_type === WEB) {
      // Marked first, so its exit is not taken for a crash.
      await rows.updateContainer(k.db, r.id, { status: 'stopped', message: 'standby for rollback' });
      if (r.docker_id) await k.replicas.stopContainer(r.docker_id, STOP_GRACE_S);
    }
  }
}
