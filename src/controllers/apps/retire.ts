import * as rows from '../../store/containers.js';
import type { ContainerRow } from '../../store/containers.js';
import { STOP_GRACE_S } from '../../domain/containers.js';
import type { AppKit } from './kit.js';

/**
 * The end of a replica's life (its start is replicas.ts): out of rotation, drained (the router
 * update waits for in-flight requests), stopped, removed; the row goes last.
 */

/**
 * A healthy new replica takes traffic and the old ones leave in the same router update (one
 * reload instead of two: each reload is a moment the proxy recycles connections), then the old
 * ones drain and stop. The app never has fewer healthy replicas in rotation than before.
 */
export async function swap(k: AppKit, fresh: ContainerRow, old: ContainerRow[]): Promise<void> {
  if (fresh.in_rotation && old.length === 0) return;
  await rows.swapRotation(k.db, fresh.id, old.map((o) => o.id));
  await k.routes.sync();
  for (const o of old) await destroy(k, o);
}

/** Out of rotation, drained (the router update waits for in-flight requests), stopped, removed. */
export async function retire(k: AppKit, row: ContainerRow): Promise<void> {
  if (row.in_rotation) await takeOut(k, row);
  await destroy(k, row);
}

export async function takeOut(k: AppKit, row: ContainerRow): Promise<void> {
  await rows.updateContainer(k.db, row.id, { in_rotation: 0, status: 'draining' });
  await k.routes.sync();
}

export async function destroy(k: AppKit, row: ContainerRow): Promise<void> {
  // Marked first, so its exit is no crash: a worker never leaves rotation, and a replica may be
  // retired before it took any traffic.
  if (row.status === 'running' || row.status === 'starting' || row.status === 'healthy') await rows.updateContainer(k.db, row.id, { status: 'draining' });
  if (row.docker_id) {
    await k.replicas.stopContainer(row.docker_id, STOP_GRACE_S);
    await k.replicas.removeContainer(row.docker_id);
  }
  await rows.deleteContainer(k.db, row.id);
}
