import { rm } from 'node:fs/promises';
import type { AppRow } from '../../store/apps.js';
import * as rows from '../../store/containers.js';
import { bareRepo } from '../../config.js';
import { LABEL } from '../../runtime/labels.js';
import { STOP_GRACE_S } from '../../domain/containers.js';
import { event, type AppKit } from './kit.js';
import { destroy } from './retire.js';

/** A deleted app: its route goes, then its containers (drained first), its rows, its built images and its git remote. */
export async function removeApp(k: AppKit, appId: string): Promise<void> {
  const list = await rows.containersOfApp(k.db, appId);
  if (list.some((r) => r.in_rotation)) await rows.takeAppOutOfRotation(k.db, appId);
  // The app's route disappears with it; in-flight requests drain before its containers stop.
  await k.routes.sync();
  // Its replicas, and the commands it still runs (they end with it).
  const engine = [
    ...(await k.replicas.listContainers({ [LABEL.instance]: k.instanceId, [LABEL.app]: appId })).map((c) => ({ c, on: k.replicas })),
    ...(await k.runs.listContainers({ [LABEL.instance]: k.instanceId, [LABEL.runApp]: appId })).map((c) => ({ c, on: k.runs })),
  ];
  await Promise.all(
    engine.map(async ({ c, on }) => {
      await on.stopContainer(c.id, STOP_GRACE_S);
      await on.removeContainer(c.id);
    }),
  );
  await rows.deleteContainersOfApp(k.db, appId);
  // The images built for it go too (they carry its label; no release of another app names them).
  for (const img of await k.images.listImages({ [LABEL.instance]: k.instanceId, [LABEL.app]: appId })) {
    // One still in use elsewhere stays; image garbage collection tries again later.
    for (const tag of img.tags) await k.images.removeImage(tag).catch((err) => k.log.warn({ err, image: tag }, 'image of a deleted app not removed'));
  }
  // The app's git remote goes with it.
  await rm(bareRepo(k.config.dataDir, appId), { recursive: true, force: true });
}

/** A stopped app: out of rotation (its URL answers 503), drained, every container removed. */
export async function stopAll(k: AppKit, app: AppRow): Promise<void> {
  const list = await rows.containersOfApp(k.db, app.id);
  if (list.length === 0) return k.routes.sync();
  await rows.takeAppOutOfRotation(k.db, app.id, 'draining');
  await k.routes.sync();
  await Promise.all(list.map((r) => destroy(k, r)));
  await event(k, app, 'app.stopped', `${app.slug} stopped; its URL answers 503`);
}
