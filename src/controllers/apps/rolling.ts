import type { AppRow } from '../../store/apps.js';
import * as rows from '../../store/containers.js';
import type { ReleaseConfig, ReleaseRow } from '../../store/releases.js';
import { START_CONCURRENCY, eachLimited, range, type AppKit } from './kit.js';
import { ensureReplica } from './replicas.js';
import { retire, swap } from './retire.js';
import { checkTarget } from './sets.js';
import { WEB } from '../../domain/containers.js';

/** One new replica in, healthy, then one old one out: never fewer healthy replicas than before. */
export async function rolling(k: AppKit, app: AppRow, target: ReleaseRow, cfg: ReleaseConfig): Promise<void> {
  // Replicas beyond what serves now replace nothing (a first deploy, or more replicas than before):
  // they start together, each taking traffic once it passes. The others go one in, one out.
  const serving = (await rows.containersOfApp(k.db, app.id)).filter((r) => r.in_rotation && r.release_id !== target.id).length;
  const replacing = Math.min(serving, cfg.replicas);
  await eachLimited(
    range(replacing, cfg.replicas),
    START_CONCURRENCY,
    async (i) => {
      await checkTarget(k, app, target);
      await swap(k, await ensureReplica(k, app, target, cfg, i, app.restart_seq, false), []);
    },
    k.alsoFailed,
  );
  for (let i = 0; i < replacing; i++) {
    await checkTarget(k, app, target);
    const fresh = await ensureReplica(k, app, target, cfg, i, app.restart_seq, false);
    const old = (await rows.containersOfApp(k.db, app.id)).find((r) => r.in_rotation && r.release_id !== target.id);
    await swap(k, fresh, old ? [old] : []);
  }
  // The old release's other process types go too (the new ones start after web, rollout.ts).
  for (const r of await rows.containersOfApp(k.db, app.id)) {
    if (r.release_id !== target.id || (r.process_type === WEB && r.replica >= cfg.replicas)) await retire(k, r);
  }
}
