import type { AppRow } from '../../store/apps.js';
import * as rows from '../../store/containers.js';
import type { ContainerRow } from '../../store/containers.js';
import type { ReleaseConfig, ReleaseRow } from '../../store/releases.js';
import { DEFAULT_PROCESS_REPLICAS, formationOf } from '../../store/formation.js';
import { WEB } from '../../domain/containers.js';
import { wantedFormation } from '../../domain/processes.js';
import { HealthError } from '../health.js';
import { START_CONCURRENCY, eachLimited, event, type AppKit } from './kit.js';
import { ImageOutOfReach, ensureReplica } from './replicas.js';
import { retire } from './retire.js';

/** One replica of a non-web process type to bring to the current generation, with its older containers. */
interface Slot {
  type: string;
  replica: number;
  mine: ContainerRow[];
}

/**
 * The release's process types besides web (workers, ...) running with the app's formation at the
 * current restart generation; replicas beyond it, or of a type the release no longer has, retired.
 * The web replicas are the strategies' and converge's. A rollout calls it before the release goes
 * live (`judge`: an engine that refuses to start one fails the release); converge after, where such a
 * refusal is reported and retried like a web replica's. Replicas of other releases are not its concern.
 */
export async function convergeProcesses(k: AppKit, app: AppRow, release: ReleaseRow, cfg: ReleaseConfig, judge: boolean): Promise<void> {
  const want = wantedFormation(0, cfg.processes, await formationOf(k.db, app.id), DEFAULT_PROCESS_REPLICAS);
  const list = (await rows.containersOfApp(k.db, app.id)).filter((r) => r.process_type !== WEB && r.release_id === release.id);
  const todo: Slot[] = [];
  for (const [type, n] of Object.entries(want)) {
    if (type === WEB) continue;
    for (let i = 0; i < n; i++) {
      const mine = list.filter((r) => r.process_type === type && r.replica === i);
      // Stopped by hand stays stopped; a crashed one is restarted by the engine and observe() marks it running again.
      if (mine.some((r) => r.status === 'stopped' || r.status === 'crashed')) continue;
      const current = mine.find((r) => r.gen === app.restart_seq);
      if (current?.status === 'running') {
        for (const r of mine) if (r !== current) await retire(k, r);
        continue;
      }
      todo.push({ type, replica: i, mine });
    }
  }
  // No traffic to hand over: the new generation starts, then the older one gets SIGTERM and its grace period.
  await eachLimited(todo, START_CONCURRENCY, (slot) => startSlot(k, app, release, cfg, slot, judge), k.alsoFailed);
  for (const r of list) {
    if (Object.hasOwn(want, r.process_type) && r.process_type !== WEB && r.replica < want[r.process_type]) continue;
    await retire(k, r);
  }
}

async function startSlot(k: AppKit, app: AppRow, release: ReleaseRow, cfg: ReleaseConfig, slot: Slot, judge: boolean): Promise<void> {
  try {
    await ensureReplica(k, app, release, cfg, slot.replica, app.restart_seq, false, slot.type);
  } catch (err) {
    if (judge || !(err instanceof HealthError) || err instanceof ImageOutOfReach) throw err;
    await event(k, app, 'container.unhealthy', `${slot.type} replica ${slot.replica} of v${release.version} did not start: ${err.message}`, {
      replica: slot.replica,
      process_type: slot.type,
    });
    return;
  }
  for (const r of slot.mine) if (r.gen !== app.restart_seq) await retire(k, r);
}
