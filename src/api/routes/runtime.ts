import type { WebSocket } from 'ws';
import type { Handlers, SocketHandlers } from '../register.js';
import type { ApiContext, AuthUser } from '../context.js';
import type { RouteOutput } from '../contract.js';
import { appFor, appOfChild } from '../access.js';
import { badRequest, conflict, notFound } from '../errors.js';
import { appDto } from './apps.js';
import * as apps from '../../store/apps.js';
import * as releases from '../../store/releases.js';
import * as containers from '../../store/containers.js';
import { buildById } from '../../store/builds.js';
import type { ContainerRow } from '../../store/containers.js';
import { createRelease } from '../../domain/releases.js';
import { maskedEnv, mergeEnv, parseEnv } from '../../domain/env.js';
import type { BerthEvent } from '../../domain/events.js';
import type { LogLine } from '../../runtime/types.js';
import { START_REQUESTED, stoppedBy } from '../../domain/containers.js';

type Release = RouteOutput<'getRelease'>;
type Container = RouteOutput<'getContainer'>;

function releaseDto(r: releases.ReleaseRow, liveId: string | null): Release {
  const c = releases.releaseConfig(r);
  return {
    id: r.id,
    version: r.version,
    image: r.image,
    status: r.status,
    reason: r.reason,
    description: r.description,
    build_id: r.build_id,
    current: r.id === liveId,
    config: {
      replicas: c.replicas,
      memory: c.memory_mb,
      cpu: c.cpu,
      port: c.port,
      strategy: c.strategy,
      health_check: c.health_check,
      env: maskedEnv(parseEnv(c.env)).env,
    },
    created_at: r.created_at,
    updated_at: r.updated_at,
  };
}

/** In rotation when the database wants it there and the router has applied it (they differ during a reload). */
function inRotation(ctx: ApiContext, row: ContainerRow): boolean {
  if (!row.in_rotation || !row.address) return false;
  return ctx.routerServes(row.address, row.port);
}

async function containerDto(ctx: ApiContext, row: ContainerRow, slug: string): Promise<Container> {
  const rel = await releases.releaseById(ctx.db, row.release_id);
  return {
    id: row.id,
    name: row.name,
    app: { id: row.app_id, slug },
    release: rel?.version ?? 0,
    replica: row.replica,
    status: row.status,
    in_rotation: inRotation(ctx, row),
    node: row.node,
    address: row.address,
    port: row.port,
    docker_id: row.docker_id,
    message: row.message,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

/** A container the caller may see (through its app), or 404. */
async function containerFor(ctx: ApiContext, user: AuthUser, id: string, need: 'viewer' | 'developer' = 'viewer') {
  const row = await containers.containerById(ctx.db, id);
  if (!row) throw notFound('container', id);
  return { row, app: await appOfChild(ctx, user, row.app_id, need, { kind: 'container', id }) };
}

const freshApp = async (ctx: ApiContext, user: AuthUser, id: string) => appDto(ctx, (await apps.findApp(ctx.db, user.id, id))!);

async function collectLogs(ctx: ApiContext, rows: ContainerRow[], q: { tail?: number; since?: number }) {
  const lines: (LogLine & { container: string })[] = [];
  await Promise.all(
    rows
      .filter((r) => r.docker_id)
      .map(async (r) => {
        for await (const l of ctx.runtime.logs(r.docker_id!, { tail: q.tail ?? 200, since: q.since, signal: AbortSignal.timeout(10_000) })) {
          lines.push({ ...l, container: r.name });
        }
      }),
  );
  lines.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  return lines.slice(-(q.tail ?? 200));
}

export const runtimeHandlers = {
  async deployApp({ user, params, body }, ctx) {
    const app = await appFor(ctx, user, params.id, 'developer');
    if (!!body.image_id === !!body.build_id) throw badRequest('give exactly one of image_id or build_id', 'image_id');
    let image = body.image_id;
    let buildId: string | null = null;
    if (body.build_id) {
      const build = await buildById(ctx.db, body.build_id);
      if (!build || build.app_id !== app.id) throw notFound('build', body.build_id);
      if (build.status !== 'succeeded' || !build.image) throw conflict(`build ${body.build_id} has not succeeded (it is ${build.status})`, 'build_id');
      image = build.image;
      buildId = build.id;
    }
    if (!(await ctx.runtime.inspectImage(image!))) {
      throw badRequest(`image "${image}" is not present on the Docker Engine`, 'image_id');
    }
    const row = body.replicas !== undefined ? { ...app, replicas: body.replicas } : app;
    const release = await createRelease(ctx.db, ctx.events, row, {
      image: image!,
      description: buildId ? `Deploy build ${buildId}` : `Deploy ${image}`,
      buildId,
      userId: user.id,
    });
    ctx.nudge(app.id);
    return releaseDto(release, app.live_release_id);
  },

  async scaleApp({ user, params, body }, ctx) {
    const app = await appFor(ctx, user, params.id, 'developer');
    await apps.updateApp(ctx.db, app.id, { replicas: body.replicas, stopped: 0 });
    await ctx.events.record({ project_id: app.project_id, app_id: app.id, kind: 'app.scaled', message: `${app.slug} scaled to ${body.replicas}` });
    ctx.nudge(app.id);
    return freshApp(ctx, user, app.id);
  },

  async restartApp({ user, params }, ctx) {
    const app = await appFor(ctx, user, params.id, 'developer');
    if (!app.live_release_id) throw conflict(`${app.slug} has never been deployed`);
    await apps.updateApp(ctx.db, app.id, { restart_seq: app.restart_seq + 1, stopped: 0 });
    await ctx.events.record({ project_id: app.project_id, app_id: app.id, kind: 'app.restarting', message: `${app.slug} is restarting` });
    ctx.nudge(app.id);
    return freshApp(ctx, user, app.id);
  },

  async stopApp({ user, params }, ctx) {
    const app = await appFor(ctx, user, params.id, 'developer');
    await apps.updateApp(ctx.db, app.id, { stopped: 1 });
    ctx.nudge(app.id);
    return freshApp(ctx, user, app.id);
  },

  async startApp({ user, params }, ctx) {
    const app = await appFor(ctx, user, params.id, 'developer');
    await apps.updateApp(ctx.db, app.id, { stopped: 0 });
    ctx.nudge(app.id);
    return freshApp(ctx, user, app.id);
  },

  async setEnv({ user, params, body }, ctx) {
    const app = await appFor(ctx, user, params.id, 'developer');
    const set: Record<string, string | null> = { ...body.set };
    for (const k of body.unset ?? []) {
      if (k in set) throw badRequest(`${k} is both set and unset`, `unset`);
      set[k] = null;
    }
    const env = JSON.stringify(mergeEnv(ctx.secrets, parseEnv(app.env), set, body.secret));
    await apps.updateApp(ctx.db, app.id, { env });
    let release: Release | null = null;
    const image = app.image;
    if (app.release_id && image) {
      const keys = [...Object.keys(body.set ?? {}).map((k) => `set ${k}`), ...(body.unset ?? []).map((k) => `unset ${k}`)];
      const row = await createRelease(ctx.db, ctx.events, { ...app, env }, { image, description: `Config: ${keys.join(', ') || 'secret marking'}`, userId: user.id });
      release = releaseDto(row, app.live_release_id);
      ctx.nudge(app.id);
    }
    return { ...maskedEnv(parseEnv(env)), release };
  },

  async listReleases({ user, params }, ctx) {
    const app = await appFor(ctx, user, params.id);
    return { items: (await releases.listReleases(ctx.db, app.id)).map((r) => releaseDto(r, app.live_release_id)) };
  },

  async getRelease({ user, params }, ctx) {
    const app = await appFor(ctx, user, params.id);
    const r = await releases.releaseByVersion(ctx.db, app.id, params.version);
    if (!r) throw notFound('release', `v${params.version}`);
    return releaseDto(r, app.live_release_id);
  },

  async rollbackApp({ user, params, body }, ctx) {
    const app = await appFor(ctx, user, params.id, 'developer');
    const live = app.live_release_id ? await releases.releaseById(ctx.db, app.live_release_id) : undefined;
    let from: releases.ReleaseRow | undefined;
    if (body?.release) {
      from = await releases.releaseByVersion(ctx.db, app.id, body.release);
      if (!from) throw notFound('release', `v${body.release}`);
    } else {
      // The last release that was live before the current one.
      from = await releases.previousLiveRelease(ctx.db, app.id, live?.version);
      if (!from) throw conflict(`${app.slug} has no earlier live release to roll back to`, 'release');
    }
    if (!(await ctx.runtime.inspectImage(from.image))) {
      throw conflict(`the image of v${from.version} (${from.image}) is no longer on the engine`, 'release');
    }
    const row = await createRelease(ctx.db, ctx.events, app, {
      image: from.image,
      // A rollback restores code and config; the scale stays what it is now, as with Heroku's formation.
      config: { ...releases.releaseConfig(from), replicas: app.replicas },
      description: `Rollback to v${from.version}`,
      buildId: from.build_id,
      userId: user.id,
    });
    ctx.nudge(app.id);
    return releaseDto(row, app.live_release_id);
  },

  async listContainers({ user, query }, ctx) {
    let rows: (ContainerRow & { slug: string })[];
    if (query.app) {
      const app = await appFor(ctx, user, query.app);
      rows = (await containers.containersOfApp(ctx.db, app.id)).map((r) => ({ ...r, slug: app.slug }));
    } else {
      rows = await ctx.db
        .selectFrom('containers')
        .innerJoin('apps', 'apps.id', 'containers.app_id')
        .innerJoin('project_members as m', (j) => j.onRef('m.project_id', '=', 'apps.project_id').on('m.user_id', '=', user.id))
        .selectAll('containers')
        .select('apps.slug')
        .orderBy('apps.slug')
        .orderBy('containers.replica')
        .execute();
    }
    return { items: await Promise.all(rows.map((r) => containerDto(ctx, r, r.slug))) };
  },

  async getContainer({ user, params }, ctx) {
    const { row, app } = await containerFor(ctx, user, params.id);
    return containerDto(ctx, row, app.slug);
  },

  async stopContainer({ user, params }, ctx) {
    const { row, app } = await containerFor(ctx, user, params.id, 'developer');
    // Desired state only: the controller leaves a replica marked stopped alone, takes it out of
    // rotation and stops its container.
    await containers.updateContainer(ctx.db, row.id, { status: 'stopped', in_rotation: 0, message: stoppedBy(user.username) });
    ctx.nudge(app.id);
    return containerDto(ctx, (await containers.containerById(ctx.db, row.id))!, app.slug);
  },

  async startContainer({ user, params }, ctx) {
    const { row, app } = await containerFor(ctx, user, params.id, 'developer');
    if (row.status !== 'stopped') throw conflict(`container ${row.id} is not stopped (it is ${row.status})`);
    // Desired state only: the controller starts it and puts it back in rotation once it answers.
    await containers.updateContainer(ctx.db, row.id, { status: 'starting', message: START_REQUESTED });
    ctx.nudge(app.id);
    return containerDto(ctx, (await containers.containerById(ctx.db, row.id))!, app.slug);
  },

  async containerLogs({ user, params, query }, ctx) {
    const { row } = await containerFor(ctx, user, params.id);
    return { lines: await collectLogs(ctx, [row], query) };
  },

  async appLogs({ user, params, query }, ctx) {
    const app = await appFor(ctx, user, params.id);
    return { lines: await collectLogs(ctx, await containers.containersOfApp(ctx.db, app.id), query) };
  },

  async listEvents({ user, query }, ctx) {
    const projects = await visibleProjects(ctx, user);
    const appId = query.app ? (await appFor(ctx, user, query.app)).id : undefined;
    return { items: await ctx.events.list(projects, { appId, after: query.after, limit: query.limit ?? 100 }) };
  },
} satisfies Handlers;

async function visibleProjects(ctx: ApiContext, user: AuthUser): Promise<string[]> {
  const rows = await ctx.db.selectFrom('project_members').select('project_id').where('user_id', '=', user.id).execute();
  return rows.map((r) => r.project_id);
}

/** Streams live log lines of some containers into a socket until it closes. */
function followLogs(ctx: ApiContext, socket: WebSocket, send: (l: LogLine & { container: string }) => void, rows: ContainerRow[], tail: number) {
  const abort = new AbortController();
  socket.on('close', () => abort.abort());
  for (const r of rows.filter((x) => x.docker_id)) {
    void (async () => {
      try {
        for await (const l of ctx.runtime.logs(r.docker_id!, { tail, follow: true, signal: abort.signal })) send({ ...l, container: r.name });
      } catch {
        /* the container went away; the others keep streaming */
      }
    })();
  }
}

const tailOf = (q: { tail?: unknown }) => Math.min(Math.max(Number(q.tail ?? 100) || 100, 0), 10000);

/** The live streams of events and logs (contract: contract-sockets.ts). */
export const runtimeSockets = {
  followEvents: {
    open(socket, send, req, ctx) {
      const user = req.user;
      // A failed read (database restarting) sends nothing rather than failing the socket.
      const load = () => visibleProjects(ctx, user).then((ids) => new Set(ids), () => new Set<string>());
      // Subscribed as the socket opens, so nothing that happens after the open is missed.
      let projects = load();
      const unsubscribe = ctx.events.subscribe(async (e: BerthEvent) => {
        // Membership can change while the socket is open; re-read it for projects not yet known.
        if (!(await projects).has(e.project_id)) projects = load();
        if ((await projects).has(e.project_id)) send(e);
      });
      socket.on('close', unsubscribe);
    },
  },
  followAppLogs: {
    async open(socket, send, req, ctx) {
      try {
        const a = await appFor(ctx, req.user, req.params.id);
        followLogs(ctx, socket, send, await containers.containersOfApp(ctx.db, a.id), tailOf(req.query));
      } catch (err) {
        send({ error: { message: (err as Error).message } });
        socket.close(1008);
      }
    },
  },
  followContainerLogs: {
    async open(socket, send, req, ctx) {
      try {
        const { row } = await containerFor(ctx, req.user, req.params.id);
        followLogs(ctx, socket, send, [row], tailOf(req.query));
      } catch (err) {
        send({ error: { message: (err as Error).message } });
        socket.close(1008);
      }
    },
  },
} satisfies Partial<SocketHandlers>;
