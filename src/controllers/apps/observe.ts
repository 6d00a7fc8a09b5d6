import { appById, type AppRow } from '../../store/apps.js';
import * as rows from '../../store/containers.js';
import type { ContainerRow } from '../../store/containers.js';
import { releaseById, releaseConfig } from '../../store/releases.js';
import { LABEL } from '../../runtime/labels.js';
import { ContainerStuck } from '../../runtime/types.js';
import { START_REQUESTED, STOP_GRACE_S, WEB, healthUrl, projectNetwork } from '../../domain/containers.js';
import { lastLogLines } from '../health.js';
import { event, type AppKit } from './kit.js';
import { takeOut } from './retire.js';

/** How long after a replica's (re)start observe() looks again every LOOK_AGAIN_MS until it answers; after that, the periodic pass. */
const LOOK_AGAIN_FOR_MS = 60_000;
const LOOK_AGAIN_MS = 1000;

/** Brings container rows up to date with what the engine says, and adopts or removes strays. */
export async function observe(k: AppKit, app: AppRow): Promise<void> {
  const db = k.db;
  const engine = await k.replicas.listContainers({ [LABEL.instance]: k.instanceId, [LABEL.app]: app.id });
  const list = await rows.containersOfApp(db, app.id);
  const byName = new Map(engine.map((c) => [c.name.replace(/^\//, ''), c]));
  for (const row of list) {
    const c = byName.get(row.name);
    byName.delete(row.name);
    if (!c) {
      // Written before it was created and never made, or removed behind our back: forget it.
      if (row.in_rotation) await takeOut(k, row);
      await rows.deleteContainer(db, row.id);
      continue;
    }
    if (!row.docker_id) await rows.updateContainer(db, row.id, { docker_id: c.id });
    // Cluster mode: the replica's task may have moved to another node.
    if (c.node && c.node !== row.node) await rows.updateContainer(db, row.id, { node: c.node });
    const address = c.addresses[projectNetwork(app.project_id)] ?? null;
    if (address !== row.address) {
      await rows.updateContainer(db, row.id, { address });
      // Serving from a new address (a Swarm replica's task restarted on another node): the router follows.
      if (row.in_rotation && address) await k.routes.sync();
    }
    if (row.status === 'stopped' || row.status === 'draining') {
      // Stopped is desired state (a stop through the API, a blue-green standby): a container still
      // running there (the control plane died between the write and the stop) is stopped now.
      if (row.status === 'stopped' && c.state === 'running') await stopAsDesired(k, row, c.id);
      continue;
    }
    // Made but never started: the control plane stopped between the two engine calls. No crash:
    // the rollout or converge that made it finds it by name, starts it and checks its health. (One
    // the engine tried and failed to start carries the engine's error, and is a crash.)
    if (c.state === 'created' && !c.startError) {
      if (row.status === 'crashed') await rows.updateContainer(db, row.id, { status: 'starting', message: null });
      continue;
    }
    const down = c.state !== 'running';
    const startAsked = row.status === 'starting' && row.message === START_REQUESTED;
    // Running again after a start through the API: from here on an exit is a crash like any other.
    if (!down && startAsked) await rows.updateContainer(db, row.id, { message: null });
    if (down && row.status !== 'crashed' && !startAsked) await markCrashed(k, app, row, c.exitCode, { restarts: c.restartCount });
    if (c.state === 'exited' && row.release_id === app.live_release_id) {
      // Docker restarts what dies on its own, but not what was stopped or killed behind Berth's
      // back (`docker kill` counts as a manual stop): nothing would bring this replica back.
      try {
        await k.replicas.startContainer(c.id);
      } catch (err) {
        if (!(err instanceof ContainerStuck)) throw err;
        // It will never start again: a new replica (converge, right after this) takes its place.
        await replaceStuck(k, app, row, c.id, err.message);
      }
    } else if (!down && (row.status === 'crashed' || row.status === 'starting') && row.release_id === app.live_release_id) {
      // Back up after a crash (Docker restarted it) or started by hand: into rotation once it answers.
      // Another process type (a worker) has nothing to answer: running is up.
      if (row.process_type !== WEB) {
        await rows.updateContainer(db, row.id, { status: 'running', message: null });
        await event(k, app, 'container.running', `${row.name} is running again`, { container: row.id, process_type: row.process_type });
      } else if (address && (await k.probe(healthUrl(address, row.port, await livePath(k, app)))).healthy) {
        await rows.updateContainer(db, row.id, { status: 'healthy', in_rotation: 1, message: null });
        await k.routes.sync();
        await event(k, app, 'container.healthy', `${row.name} is healthy again`, { container: row.id });
      } else if (c.startedAt && k.clock.now() - Date.parse(c.startedAt) < LOOK_AGAIN_FOR_MS) {
        // Just (re)started and not answering yet: look again in a moment rather than at the next
        // periodic pass, so a replica is back in rotation about a second after it answers.
        k.lookAgain(app.id, LOOK_AGAIN_MS);
      }
    }
  }
  // Replicas of ours with no row: half-made before a crash, or left by a deleted row. Only a
  // container that names its row is a replica: anything else with the app's label (a command, a
  // container someone ran by hand from the app's image) is not this loop's to remove.
  for (const c of byName.values()) if (c.labels[LABEL.container]) await k.replicas.removeContainer(c.id);
}

async function replaceStuck(k: AppKit, app: AppRow, row: ContainerRow, dockerId: string, reason: string): Promise<void> {
  if (row.in_rotation) await takeOut(k, row);
  await k.replicas.removeContainer(dockerId);
  await rows.deleteContainer(k.db, row.id);
  await event(k, app, 'container.replaced', `${row.name} could not be started again after the engine restarted, so a new replica replaces it (the engine said: ${reason})`, { container: row.id });
}

async function stopAsDesired(k: AppKit, row: ContainerRow, dockerId: string): Promise<void> {
  if (row.in_rotation) await rows.updateContainer(k.db, row.id, { in_rotation: 0 });
  await k.routes.sync();
  await k.replicas.stopContainer(dockerId, STOP_GRACE_S);
}

/** The health check path of the live release: the one its replicas run with. */
async function livePath(k: AppKit, app: AppRow): Promise<string> {
  const live = app.live_release_id ? await releaseById(k.db, app.live_release_id) : undefined;
  return live ? releaseConfig(live).health_check.path : app.health_check.path;
}

/**
 * A replica that was serving died on its own: out of rotation at once (before the next reconcile)
 * and reported with its exit code. Docker restarts it with backoff; observe() brings it back.
 */
export async function onDie(k: AppKit, dockerId: string, exitCode: number | null): Promise<void> {
  const row = await rows.containerByDockerId(k.db, dockerId);
  if (!row || (row.status !== 'healthy' && row.status !== 'running' && row.status !== 'starting')) return;
  if (row.status === 'starting' && row.message === START_REQUESTED) return;
  const app = await appById(k.db, row.app_id);
  await markCrashed(k, app, row, exitCode, { log: await lastLogLines(k.replicas, dockerId, 20) });
}

/** Out of rotation at once, and reported; whoever noticed first (an engine event or observe()) does it. */
async function markCrashed(k: AppKit, app: AppRow | undefined, row: ContainerRow, exitCode: number | null, data: Record<string, unknown>): Promise<void> {
  await rows.updateContainer(k.db, row.id, { status: 'crashed', in_rotation: 0, message: `exited with code ${exitCode ?? '?'}` });
  if (row.in_rotation) await k.routes.sync();
  if (!app) return;
  await event(k, app, 'container.crashed', `${row.name} exited with code ${exitCode ?? '?'}; Docker restarts it with backoff`, {
    container: row.id,
    exit_code: exitCode,
    ...data,
  });
}
