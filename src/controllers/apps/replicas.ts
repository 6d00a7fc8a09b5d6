import { hostname } from 'node:os';
import type { AppRow } from '../../store/apps.js';
import { now } from '../../store/db.js';
import type { ReleaseConfig, ReleaseRow } from '../../store/releases.js';
import * as rows from '../../store/containers.js';
import type { ContainerRow } from '../../store/containers.js';
import { newId } from '../../lib/ids.js';
import { ImageUnavailable, type ContainerInfo, type ContainerSpec } from '../../runtime/types.js';
import { WEB, containerName, healthUrl, projectNetwork } from '../../domain/containers.js';
import { Canceled, HealthError, exitedEarly, waitHealthy } from '../health.js';
import { event, type AppKit } from './kit.js';
import { containerSpec } from '../../domain/release-spec.js';
import { destroy } from './retire.js';

const NODE = hostname();

/**
 * The first half of a replica's life: made (row first, then the engine container), started,
 * checked and put in rotation. Its end (out of rotation, drained, stopped, removed) is retire.ts.
 */

/**
 * Makes sure replica i of the release runs, healthy, and (unless told otherwise) takes traffic.
 * Idempotent: an existing healthy container is kept; a half-made one is finished or replaced.
 */
export async function ensureReplica(k: AppKit, app: AppRow, release: ReleaseRow, cfg: ReleaseConfig, replica: number, gen: number, rotate = true, processType = WEB): Promise<ContainerRow> {
  const db = k.db;
  const name = containerName(app, release.version, replica, gen, processType);
  let row = (await rows.containersOfApp(db, app.id)).find((r) => r.name === name);
  if (row && (row.status === 'crashed' || row.status === 'unhealthy' || row.status === 'stopped' || row.status === 'draining')) {
    await destroy(k, row);
    row = undefined;
  }
  if (!row) {
    row = {
      id: newId('ctr'),
      app_id: app.id,
      release_id: release.id,
      replica,
      gen,
      name,
      docker_id: null,
      node: NODE,
      address: null,
      port: cfg.port,
      status: 'starting',
      in_rotation: 0,
      message: null,
      process_type: processType,
      created_at: now(),
      updated_at: now(),
    };
    // Intent first: a crash between here and the engine call leaves a row that observe() resolves.
    await rows.insertContainer(db, row);
    const dockerId = await createReplica(k, row, containerSpec(k.secrets, k.instanceId, app, release, cfg, row));
    row.docker_id = dockerId;
    await rows.updateContainer(db, row.id, { docker_id: dockerId });
    await startReplica(k, row);
    await event(k, app, 'container.started', `${name} started`, { container: row.id, release: release.version, replica });
  } else if (row.docker_id) {
    await startReplica(k, row);
  }
  const info = await k.replicas.inspectContainer(row.docker_id!);
  const address = info?.addresses[projectNetwork(app.project_id)];
  if (processType !== WEB) return processStarted(k, app, row, info, address);
  if (!address) {
    // Gone already (its command could not run: init reports that as an exit): say so, with its log.
    const exited = info && info.state !== 'running' && info.state !== 'created';
    const err = exited
      ? await exitedEarly(k.replicas, row.docker_id!, info.exitCode ?? k.exits.get(row.docker_id!), { oomKilled: info.oomKilled || k.ooms.has(row.docker_id!), memoryMb: info.memoryMb })
      : new HealthError('the container has no address on its project network', []);
    await discardUnhealthy(k, row, err.message);
    throw err;
  }
  await rows.updateContainer(db, row.id, { address, ...(info.node ? { node: info.node } : {}) });
  if (row.status !== 'healthy') {
    try {
      await waitHealthy(k, row.docker_id!, healthUrl(address, cfg.port, cfg.health_check.path), {
        timeoutMs: cfg.health_check.timeout_s * 1000,
        graceMs: cfg.health_check.grace_s * 1000,
        signal: k.signal,
        lastExitCode: () => k.exits.get(row!.docker_id!),
        oomSeen: () => k.ooms.has(row!.docker_id!),
      });
    } catch (err) {
      // Stopping is no verdict: the row stays 'starting' and the next start picks the replica up.
      if (err instanceof Canceled) throw err;
      await discardUnhealthy(k, row, (err as Error).message);
      throw err;
    }
    await rows.updateContainer(db, row.id, { status: 'healthy', message: null });
    await event(k, app, 'container.healthy', `${name} is healthy`, { container: row.id });
  }
  if (rotate && !row.in_rotation) {
    await rows.updateContainer(db, row.id, { in_rotation: 1 });
    await k.routes.sync();
  }
  return (await rows.containerById(db, row.id))!;
}

/**
 * A replica of a type without an HTTP check (a worker): up is all it has to be. One that exited at
 * once is no release failure (Heroku's rule): observe() reports it as crashed and it is restarted.
 */
async function processStarted(k: AppKit, app: AppRow, row: ContainerRow, info: ContainerInfo | null, address: string | undefined): Promise<ContainerRow> {
  const patch = { address: address ?? null, ...(info?.node ? { node: info.node } : {}) };
  if (info?.state === 'running' && row.status !== 'running') {
    await rows.updateContainer(k.db, row.id, { ...patch, status: 'running', message: null });
    await event(k, app, 'container.running', `${row.name} is running`, { container: row.id, process_type: row.process_type });
  } else await rows.updateContainer(k.db, row.id, patch);
  return (await rows.containerById(k.db, row.id))!;
}

/** Its image out of reach of the nodes (cluster mode, no registry): the release fails saying so, like a replica that never became healthy. */
async function createReplica(k: AppKit, row: ContainerRow, spec: ContainerSpec): Promise<string> {
  try {
    return await k.replicas.createContainer(spec);
  } catch (err) {
    if (!(err instanceof ImageUnavailable)) throw err;
    await discardUnhealthy(k, row, err.message);
    throw new ImageOutOfReach(err.message, []);
  }
}

/** A replica that could not be made because the nodes cannot get its image: not the replica's fault, so converge retries with backoff. */
export class ImageOutOfReach extends HealthError {}

/**
 * Starts the replica's container. An engine that refuses (a missing entrypoint, a bad command) is
 * the release's fault, like a failed health check: the replica goes and the release fails with
 * the engine's words. An engine that does not answer is not: that error propagates and the next
 * reconcile tries again.
 */
async function startReplica(k: AppKit, row: ContainerRow): Promise<void> {
  try {
    await k.replicas.startContainer(row.docker_id!);
  } catch (err) {
    const status = (err as { statusCode?: number }).statusCode;
    if (status === undefined || status < 400) throw err;
    const message = `the container did not start: ${(err as Error).message}`;
    await discardUnhealthy(k, row, message);
    throw new HealthError(message, []);
  }
}

async function discardUnhealthy(k: AppKit, row: ContainerRow, message: string): Promise<void> {
  await rows.updateContainer(k.db, row.id, { status: 'unhealthy', message });
  await destroy(k, { ...row, status: 'unhealthy' });
}
