import type { AppRow } from '../../store/apps.js';
import * as rows from '../../store/containers.js';
import type { ContainerRow } from '../../store/containers.js';
import { previousLiveRelease, releaseConfig, type ReleaseConfig, type ReleaseRow } from '../../store/releases.js';
import { WEB, networkLabels, projectNetwork } from '../../domain/containers.js';
import { HealthError } from '../health.js';
import { START_CONCURRENCY, eachLimited, event, type AppKit } from './kit.js';
import { ensureReplica, ImageOutOfReach } from './replicas.js';
import { retire, swap } from './retire.js';
import { convergeProcesses } from './processes.js';

/** One replica index to converge, with its containers of the live release (older generations). */
interface Slot {
  replica: number;
  mine: ContainerRow[];
}

/**
 * Live release running with the desired replica count and generation; everything else retired.
 * The replica count is the app's (it applies at once); everything else is the release's.
 */
export async function converge(k: AppKit, app: AppRow, live: ReleaseRow): Promise<void> {
  const cfg = { ...releaseConfig(live), replicas: app.replicas };
  await k.networks.ensureNetwork(projectNetwork(app.project_id), networkLabels(k.instanceId, app.project_id));
  let list = await rows.containersOfApp(k.db, app.id);
  const added: Slot[] = [];
  const replaced: Slot[] = [];
  for (let i = 0; i < cfg.replicas; i++) {
    const mine = list.filter((r) => r.release_id === live.id && r.process_type === WEB && r.replica === i);
    // A replica stopped by hand stays stopped; a crashed one is restarted by Docker and rejoins in observe().
    if (mine.some((r) => r.status === 'stopped' || r.status === 'crashed')) continue;
    const current = mine.find((r) => r.gen === app.restart_seq);
    if (current?.in_rotation && current.status === 'healthy') {
      for (const r of mine) if (r !== current) await retire(k, r);
      continue;
    }
    (mine.some((r) => r.in_rotation) ? replaced : added).push({ replica: i, mine });
  }
  // Nothing serves in these replicas' places (a scale-up, or a replica that vanished): they start
  // together, as one would run them by hand. Each still takes traffic only once its own check passes.
  await eachLimited(added, START_CONCURRENCY, (slot) => convergeReplica(k, app, live, cfg, slot), k.alsoFailed);
  // A restart replaces serving replicas one at a time, so at most one extra runs while it does.
  for (const slot of replaced) await convergeReplica(k, app, live, cfg, slot);
  // The other process types (workers, ...) of the live release: their own formation.
  await convergeProcesses(k, app, live, cfg, false);
  list = await rows.containersOfApp(k.db, app.id);
  const standby = await standbyRelease(k, app, live);
  for (const r of list) {
    const extra = r.release_id === live.id && r.process_type === WEB && r.replica >= cfg.replicas;
    const foreign = r.release_id !== live.id && !(r.release_id === standby && r.status === 'stopped' && r.process_type === WEB);
    if (extra || foreign) await retire(k, r);
  }
  await k.routes.sync();
}

/** Replica `slot.replica` of the live release running at the current generation, then in rotation as its older ones leave. */
async function convergeReplica(k: AppKit, app: AppRow, live: ReleaseRow, cfg: ReleaseConfig, slot: Slot): Promise<void> {
  let fresh: ContainerRow;
  try {
    fresh = await ensureReplica(k, app, live, cfg, slot.replica, app.restart_seq, false);
  } catch (err) {
    // The image out of reach is the same for every replica and every pass: the queue backs off and,
    // if it lasts, tells the app's users once (app.stuck), instead of an event per replica per pass.
    if (!(err instanceof HealthError) || err instanceof ImageOutOfReach) throw err;
    await event(k, app, 'container.unhealthy', `replica ${slot.replica} of v${live.version} did not become healthy: ${err.message}`, {
      replica: slot.replica,
      log: err.logTail,
    });
    return;
  }
  // Restart: the new generation comes in as the old one leaves.
  await swap(k, fresh, slot.mine.filter((r) => r.gen !== app.restart_seq));
}

/** The release blue-green keeps stopped for a fast rollback: the one live just before the current. */
async function standbyRelease(k: AppKit, app: AppRow, live: ReleaseRow): Promise<string | undefined> {
  if (releaseConfig(live).strategy !== 'blue-green') return undefined;
  return (await previousLiveRelease(k.db, app.id, live.version))?.id;
}
