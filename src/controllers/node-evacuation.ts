import type { Db } from '../store/db.js';
import type { Events } from '../domain/events.js';
import type { AppNudge } from './deps.js';
import { appById, updateApp } from '../store/apps.js';
import { containersOnNode } from '../store/containers.js';

/**
 * Moves the replicas off a node the way a restart replaces them: the app controller starts each
 * replacement (the node is paused, so Swarm puts it elsewhere), waits until it is healthy and in
 * rotation, then drains the old one from the router and stops it. Letting Swarm move them instead
 * stops the task first while the router still sends it requests.
 *
 * Writes desired state only (a new restart generation per app) and nudges the app controller;
 * idempotent, so each pass of the node controller calls it again until it answers 0.
 * Returns how many replicas are still on the node.
 */
export async function evacuate(db: Db, events: Events, apps: AppNudge, hostname: string): Promise<number> {
  const left = (await containersOnNode(db, hostname)).filter((r) => r.status !== 'stopped');
  for (const appId of new Set(left.map((r) => r.app_id))) {
    const app = await appById(db, appId);
    // A first rollout still under way takes the new generation when it goes live.
    if (!app || app.stopped || !app.release_id) continue;
    // A replica of an older generation is being replaced already: no second restart.
    if (left.some((r) => r.app_id === appId && r.gen < app.restart_seq)) continue;
    await updateApp(db, app.id, { restart_seq: app.restart_seq + 1 });
    await events.record({ actor: { system: 'nodes' }, project_id: app.project_id, app_id: app.id, kind: 'app.restarting', message: `${app.slug} is restarting: its replicas move off node ${hostname}, which is being drained` });
    apps.nudge(app.id);
  }
  return left.length;
}
