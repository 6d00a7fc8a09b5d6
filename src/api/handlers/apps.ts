import type { Handlers } from '../register.js';
import { checkHost } from '../../lib/egress.js';
import { registryHostOf } from '../../domain/registries.js';
import { isControlHost } from '../../domain/custom-domains.js';
import type { ApiContext } from '../context.js';
import { badRequest, conflict } from '../errors.js';
import { appFor, projectFor } from '../access.js';
import { isUniqueViolation, now } from '../../store/db.js';
import * as apps from '../../store/apps.js';
import type { AppPatch, AppRow, AppView } from '../../store/apps.js';
import { defaultProject } from '../../store/projects.js';
import { newId } from '../../lib/ids.js';
import { maskedEnv, mergeEnv } from '../../domain/env.js';
import { arrivalCount, ReadCache } from '../read-cache.js';
import { MountError, resolveMounts } from '../../domain/volumes.js';
import { AppRuleError, applyAppChange, checkAppChange, deleteApp } from '../../domain/apps.js';
import { writeAppSource } from './vendors.js';
import { checkImageUse } from './image-use.js';
import { deleteSource } from '../../store/app-sources.js';
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
  // A first release that failed: nothing serves, and that is a failure, not an app waiting for a deploy.
  if (!a.release_id) return a.newest_status === 'failed' ? 'failed' : 'idle';
  if (a.target_status === 'pending' || a.target_status === 'deploying') return 'deploying';
  return a.live_release_id ? 'running' : 'failed';
}

/** `node`: where Berth's volumes live in cluster mode (null on one node), shown on apps with volumes. */
export function appDto(ctx: ApiContext, a: AppView, node: VolumeNode | null) {
  const mounts = a.volumes;
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
    health_check: a.health_check,
    drain_timeout_s: a.drain_timeout_s ?? APP_DEFAULTS.drain_timeout_s,
    placement: a.placement ?? { constraints: [] },
    ...maskedEnv(a.env),
    status: appStatus(a),
    release: a.live_version,
    auto_deploy: !!a.auto_deploy,
    volumes: mounts.map((m) => ({ volume: m.volume, path: m.path })),
    pinned: node && mounts.length ? { node: node.hostname, constraint: volumePin(node.id), reason: VOLUME_PIN_REASON } : null,
    release_command: a.release_command ?? [],
    log_retention: {
      days: a.log_retention_days ?? ctx.config.logs.retentionDays,
      mb: a.log_retention_mb ?? Math.floor(ctx.config.logs.retentionBytes / 2 ** 20),
      own: a.log_retention_days != null || a.log_retention_mb != null,
    },
    created_at: a.created_at,
    updated_at: a.updated_at,
  };
}

/** An image from a registry names a host the engine will connect to: the egress rule applies (field `image`). */
function imageEgress(ctx: ApiContext, image: string | null | undefined): void {
  const registry = image ? registryHostOf(image) : null;
  if (registry) checkHost(registry.replace(/:\d+$/, ''), 'image', ctx.config.egressAllow);
}

/** Turns a unique violation into a 409 naming the field that clashed. */
/** `slug`: the new app's, or null on an update (a slug never changes, and the app's own would be found). */
async function uniqueApp<T>(ctx: ApiContext, projectId: string, name: string, slug: string | null, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    if (slug !== null && (await apps.appBySlug(ctx.db, slug))) throw conflict(`slug "${slug}" is taken`, 'slug');
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
  async listApps({ user, query, raw }, ctx) {
    const limit = query.limit ?? 100;
    const offset = query.offset ?? 0;
    const projectId = query.project ? (await projectFor(ctx, user, query.project)).id : undefined;
    let cache = pages.get(ctx);
    if (!cache) pages.set(ctx, (cache = new ReadCache(ctx.store)));
    const build = async () => {
      const { items, total } = await apps.listApps(ctx.db, user.id, { projectId, limit, offset });
      const node = await volumeNode(ctx, ...items);
      return { items: items.map((a) => appDto(ctx, a, node)), total, limit, offset };
    };
    // Checked against the count the token check read: a list writes nothing before this.
    return cache.get(`${user.id} ${projectId ?? ''} ${limit} ${offset}`, build, arrivalCount(raw, ctx.store));
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
      health_check: body.health_check ?? APP_DEFAULTS.health_check,
      env: {},
      release_id: null,
      live_release_id: null,
      stopped: 0,
      restart_seq: 0,
      auto_deploy: body.auto_deploy === false ? 0 : 1,
      drain_timeout_s: body.drain_timeout_s ?? APP_DEFAULTS.drain_timeout_s,
      volumes: [],
      release_command: null,
      // No constraint at all is stored as none.
      placement: body.placement?.constraints.length ? body.placement : null,
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
    const patch: AppPatch = {};
    if (body.name !== undefined) patch.name = body.name;
    if (body.image !== undefined && body.image !== null && body.image !== a.image) await checkImageUse(ctx, user, a, body.image, 'image');
    if (body.image !== undefined) patch.image = body.image;
    imageEgress(ctx, body.image);
    if (body.replicas !== undefined) patch.replicas = body.replicas;
    if (body.memory !== undefined) patch.memory_mb = body.memory;
    if (body.cpu !== undefined) patch.cpu = body.cpu;
    if (body.port !== undefined) patch.port = body.port;
    if (body.strategy !== undefined) patch.strategy = body.strategy;
    if (body.health_check !== undefined) patch.health_check = body.health_check;
    if (body.auto_deploy !== undefined) patch.auto_deploy = body.auto_deploy ? 1 : 0;
    if (body.drain_timeout_s !== undefined) patch.drain_timeout_s = body.drain_timeout_s;
    // An app may keep less log than the platform allows, never more: the database is shared.
    const most = { log_retention_days: ctx.config.logs.retentionDays, log_retention_mb: Math.floor(ctx.config.logs.retentionBytes / 2 ** 20) };
    for (const k of ['log_retention_days', 'log_retention_mb'] as const) {
      const v = body[k];
      if (v === undefined) continue;
      if (v !== null && v > most[k]) throw badRequest(`${k} may be at most ${most[k]} (the platform's limit)`, k);
      patch[k] = v;
    }
    if (body.placement !== undefined) patch.placement = body.placement;
    if (body.env !== undefined || body.secret_env !== undefined) patch.env = mergeEnv(ctx.secrets, a.env, body.env, body.secret_env);
    if (body.release_command !== undefined) patch.release_command = body.release_command.length ? body.release_command : null;
    if (body.volumes !== undefined) patch.volumes = await checkedMounts(ctx, a.project_id, body.volumes);
    const node = await volumeNode(ctx, { volumes: patch.volumes ?? a.volumes });
    try {
      checkAppChange(a, patch, node && ((c) => unmetBy(c, node)));
    } catch (err) {
      if (err instanceof AppRuleError) throw badRequest(err.message, err.field);
      throw err;
    }
    // The git source lives beside the app (app_sources); it takes effect at the next build, like PUT /apps/{id}/source.
    if (body.source === null) await deleteSource(ctx.db, a.id);
    else if (body.source !== undefined) await writeAppSource(ctx, user, a, body.source, 'source.');
    if (await uniqueApp(ctx, a.project_id, body.name ?? a.name, null, () => applyAppChange(ctx.db, ctx.events, a, patch, user))) ctx.nudge(a.id);
    return appDto(ctx, (await apps.findApp(ctx.db, user.id, a.id))!, node);
  },

  async deleteApp({ user, params, query }, ctx) {
    const a = await appFor(ctx, user, params.id, 'developer');
    await deleteApp(ctx.db, a, !!query.with_volumes);
    ctx.nudge(a.id);
    return { ok: true };
  },
} satisfies Handlers;
