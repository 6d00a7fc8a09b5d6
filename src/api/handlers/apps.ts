import type { Handlers } from '../register.js';
import { checkHost } from '../../lib/egress.js';
import { registryHostOf } from '../../domain/registries.js';
import { isControlHost } from '../../domain/custom-domains.js';
import type { ApiContext } from '../context.js';
import { badRequest, conflict } from '../errors.js';
import { appFor, projectFor } from '../access.js';
import { isUniqueViolation, now } from '../../store/db.js';
import * as apps from '../../store/apps.js';
import type { AppRow, AppView } from '../../store/apps.js';
import { defaultProject } from '../../store/projects.js';
import { newId } from '../../lib/ids.js';
import { maskedEnv, mergeEnv, parseEnv } from '../../domain/env.js';
import { ReadCache } from '../read-cache.js';
import { createRelease } from '../../domain/releases.js';
import { MountError, resolveMounts, type ReleaseMount } from '../../domain/volumes.js';
import { writeAppSource } from './vendors.js';
import { checkImageUse } from './image-use.js';
import { deleteSource } from '../../store/app-sources.js';
import { deleteVolume, volumeInProject } from '../../store/volumes.js';
import { volumeNode } from '../volume-node.js';
import { checkAppCount, checkAppShape } from '../quota.js';
import { unmetBy, volumePin, VOLUME_PIN_REASON, type VolumeNode } from '../../runtime/swarm/volume-placement.js';

export const APP_DEFAULTS = {
  replicas: 1,
  memory: 512,
  cpu: 0,
  port: 8080,
  strategy: 'rolling' as const,
  health_check: { path: '/', timeout_s: 60, grace_s: 0 },
  drain_timeout_s: 30,
};

export function appUrl(ctx: ApiContext, slug: string): string {
  const port = ctx.config.routerHttpPort;
  return `http://${slug}.${ctx.config.routerDomain}${port === 80 ? '' : `:${port}`}`;
}

function appStatus(a: AppView): string {
  if (a.stopped) return 'stopped';
  if (!a.release_id) return 'idle';
  if (a.target_status === 'pending' || a.target_status === 'deploying') return 'deploying';
  return a.live_release_id ? 'running' : 'failed';
}

/** `node`: where Berth's volumes live in cluster mode (null on one node), shown on apps with volumes. */
export function appDto(ctx: ApiContext, a: AppView, node: VolumeNode | null) {
  const mounts = JSON.parse(a.volumes) as ReleaseMount[];
  return {
    id: a.id,
    name: a.name,
    slug: a.slug,
    project: { id: a.project_id, name: a.project_name },
    url: appUrl(ctx, a.slug),
    image: a.image,
    replicas: a.replicas,
    memory: a.memory_mb,
    cpu: a.cpu,
    port: a.port,
    strategy: a.strategy,
    health_check: JSON.parse(a.health_check),
    drain_timeout_s: a.drain_timeout_s ?? APP_DEFAULTS.drain_timeout_s,
    placement: a.placement ? (JSON.parse(a.placement) as { constraints: string[] }) : { constraints: [] },
    ...maskedEnv(parseEnv(a.env)),
    status: appStatus(a),
    release: a.live_version,
    auto_deploy: !!a.auto_deploy,
    volumes: mounts.map((m) => ({ volume: m.volume, path: m.path })),
    pinned: node && mounts.length ? { node: node.hostname, constraint: volumePin(node.id), reason: VOLUME_PIN_REASON } : null,
    release_command: a.release_command ? (JSON.parse(a.release_command) as string[]) : [],
    created_at: a.created_at,
    updated_at: a.updated_at,
  };
}

/** Stored as JSON; no constraint at all is stored as none. */
function placementColumn(p: { constraints: string[] } | null | undefined): string | null {
  return p?.constraints.length ? JSON.stringify({ constraints: [...new Set(p.constraints)] }) : null;
}

/** An image from a registry names a host the engine will connect to: the egress rule applies (field `image`). */
function imageEgress(ctx: ApiContext, image: string | null | undefined): void {
  const registry = image ? registryHostOf(image) : null;
  if (registry) checkHost(registry.replace(/:\d+$/, ''), 'image', ctx.config.egressAllow);
}

/** Turns a unique violation into a 409 naming the field that clashed. */
async function uniqueApp<T>(ctx: ApiContext, projectId: string, name: string, slug: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    if (await apps.appBySlug(ctx.db, slug)) throw conflict(`slug "${slug}" is taken`, 'slug');
    if (await apps.appByName(ctx.db, projectId, name)) throw conflict(`the project already has an app named "${name}"`, 'name');
    throw err;
  }
}

type AppPage = { items: ReturnType<typeof appDto>[]; total: number; limit: number; offset: number };
const pages = new WeakMap<ApiContext, ReadCache<AppPage>>();

async function checkedMounts(ctx: ApiContext, projectId: string, mounts: { volume: string; path: string }[]) {
  try {
    return await resolveMounts(ctx.db, projectId, mounts);
  } catch (err) {
    if (err instanceof MountError) throw badRequest(err.message, err.field);
    throw err;
  }
}

export const appHandlers = {
  async listApps({ user, query }, ctx) {
    const limit = query.limit ?? 100;
    const offset = query.offset ?? 0;
    const projectId = query.project ? (await projectFor(ctx, user, query.project)).id : undefined;
    let cache = pages.get(ctx);
    if (!cache) pages.set(ctx, (cache = new ReadCache(ctx.store)));
    return cache.get(`${user.id} ${projectId ?? ''} ${limit} ${offset}`, async () => {
      const { items, total } = await apps.listApps(ctx.db, user.id, { projectId, limit, offset });
      const node = await volumeNode(ctx, ...items);
      return { items: items.map((a) => appDto(ctx, a, node)), total, limit, offset };
    });
  },

  async createApp({ user, body }, ctx) {
    const project = body.project ? await projectFor(ctx, user, body.project, 'developer') : await defaultProject(ctx.db, user.id);
    await checkAppCount(ctx, user, project.id);
    await checkAppShape(ctx, user, project.id, { replicas: body.replicas, memory: body.memory, cpu: body.cpu, placement: body.placement });
    const slug = body.slug ?? body.name;
    const ts = now();
    const row: AppRow = {
      id: newId('app'),
      project_id: project.id,
      name: body.name,
      slug,
      image: body.image ?? null,
      replicas: body.replicas ?? APP_DEFAULTS.replicas,
      memory_mb: body.memory ?? APP_DEFAULTS.memory,
      // No CPU limit unless asked for is how one app takes every core: new apps get the operator's default.
      cpu: body.cpu ?? ctx.config.access.defaultCpu,
      port: body.port ?? APP_DEFAULTS.port,
      strategy: body.strategy ?? APP_DEFAULTS.strategy,
      health_check: JSON.stringify(body.health_check ?? APP_DEFAULTS.health_check),
      env: '{}',
      release_id: null,
      live_release_id: null,
      stopped: 0,
      restart_seq: 0,
      auto_deploy: body.auto_deploy === false ? 0 : 1,
      drain_timeout_s: body.drain_timeout_s ?? APP_DEFAULTS.drain_timeout_s,
      volumes: '[]',
      release_command: null,
      placement: placementColumn(body.placement),
      created_at: ts,
      updated_at: ts,
    };
    imageEgress(ctx, body.image);
    if (isControlHost(`${slug}.${ctx.config.routerDomain}`, ctx.config.controlHosts)) {
      throw conflict(`slug "${slug}" is reserved: ${slug}.${ctx.config.routerDomain} is where this Berth's dashboard is served`, 'slug');
    }
    if (await apps.appBySlug(ctx.db, slug)) throw conflict(`slug "${slug}" is taken`, 'slug');
    if (row.image) await checkImageUse(ctx, user, row, row.image, 'image');
    await uniqueApp(ctx, project.id, row.name, slug, () => apps.insertApp(ctx.db, row));
    ctx.nudge(row.id);
    const created = (await apps.findApp(ctx.db, user.id, row.id))!;
    return appDto(ctx, created, await volumeNode(ctx, created));
  },

  async getApp({ user, params }, ctx) {
    const a = await appFor(ctx, user, params.id);
    return appDto(ctx, a, await volumeNode(ctx, a));
  },

  async updateApp({ user, params, body }, ctx) {
    const a = await appFor(ctx, user, params.id, 'developer');
    await checkAppShape(ctx, user, a.project_id, { replicas: body.replicas, memory: body.memory, cpu: body.cpu, placement: body.placement });
    const patch: Partial<AppRow> = {};
    if (body.name !== undefined) patch.name = body.name;
    if (body.image !== undefined && body.image !== null && body.image !== a.image) await checkImageUse(ctx, user, a, body.image, 'image');
    if (body.image !== undefined) patch.image = body.image;
    imageEgress(ctx, body.image);
    if (body.replicas !== undefined) patch.replicas = body.replicas;
    if (body.memory !== undefined) patch.memory_mb = body.memory;
    if (body.cpu !== undefined) patch.cpu = body.cpu;
    if (body.port !== undefined) patch.port = body.port;
    if (body.strategy !== undefined) patch.strategy = body.strategy;
    if (body.health_check !== undefined) patch.health_check = JSON.stringify(body.health_check);
    if (body.auto_deploy !== undefined) patch.auto_deploy = body.auto_deploy ? 1 : 0;
    if (body.drain_timeout_s !== undefined) patch.drain_timeout_s = body.drain_timeout_s;
    if (body.placement !== undefined) patch.placement = placementColumn(body.placement);
    if (body.env !== undefined || body.secret_env !== undefined) {
      patch.env = JSON.stringify(mergeEnv(ctx.secrets, parseEnv(a.env), body.env, body.secret_env));
    }
    if (body.release_command !== undefined) patch.release_command = body.release_command.length ? JSON.stringify(body.release_command) : null;
    if (body.volumes !== undefined) patch.volumes = JSON.stringify(await checkedMounts(ctx, a.project_id, body.volumes));
    const mounts = JSON.parse(patch.volumes ?? a.volumes) as ReleaseMount[];
    if (mounts.length && (body.strategy ?? a.strategy) !== 'recreate') {
      // Two releases' replicas writing one volume at once is how data gets corrupted.
      throw badRequest('an app with volumes rolls out with strategy "recreate" (old replicas stop before new ones start): set strategy to recreate', 'strategy');
    }
    const node = await volumeNode(ctx, { volumes: patch.volumes ?? a.volumes });
    if (node) {
      const constraints = body.placement !== undefined ? body.placement?.constraints ?? [] : a.placement ? (JSON.parse(a.placement) as { constraints: string[] }).constraints : [];
      constraints.forEach((c, i) => {
        const why = unmetBy(c, node);
        if (why) throw badRequest(why, body.placement !== undefined ? `placement.constraints.${i}` : 'volumes');
      });
    }
    // The git source lives beside the app (app_sources); it takes effect at the next build, like PUT /apps/{id}/source.
    if (body.source === null) await deleteSource(ctx.db, a.id);
    else if (body.source !== undefined) await writeAppSource(ctx, user, a, body.source, 'source.');
    if (Object.keys(patch).length) {
      await uniqueApp(ctx, a.project_id, body.name ?? a.name, a.slug, () => apps.updateApp(ctx.db, a.id, patch));
      // Mounts change what the replicas run with: like config vars, they make a release (when deployed).
      if (patch.volumes !== undefined && patch.volumes !== a.volumes && a.release_id && a.image) {
        const fresh = (await apps.appById(ctx.db, a.id))!;
        const desc = mounts.length ? `Volumes: ${mounts.map((m) => `${m.volume}:${m.path}`).join(', ')}` : 'Volumes: none';
        await createRelease(ctx.db, ctx.events, fresh, { image: a.image, description: desc, userId: user.id });
      }
      await ctx.events.record({ project_id: a.project_id, app_id: a.id, kind: 'app.updated', message: `${user.username} changed ${Object.keys(patch).join(', ')} of ${a.slug}` });
      ctx.nudge(a.id);
    }
    return appDto(ctx, (await apps.findApp(ctx.db, user.id, a.id))!, node);
  },

  async deleteApp({ user, params, query }, ctx) {
    const a = await appFor(ctx, user, params.id, 'developer');
    await apps.deleteApp(ctx.db, a.id);
    if (query.with_volumes) {
      // Only volumes no other app mounts; the engine volumes go once the app's containers are gone.
      const others = (await apps.listApps(ctx.db, user.id, { projectId: a.project_id, limit: 500, offset: 0 })).items;
      const inUse = new Set(others.flatMap((o) => (JSON.parse(o.volumes) as ReleaseMount[]).map((m) => m.volume)));
      for (const m of JSON.parse(a.volumes) as ReleaseMount[]) {
        const v = await volumeInProject(ctx.db, a.project_id, m.volume_id);
        if (v && !inUse.has(v.name)) await deleteVolume(ctx.db, v.id);
      }
    }
    ctx.nudge(a.id);
    return { ok: true };
  },
} satisfies Handlers;
