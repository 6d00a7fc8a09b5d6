import type { WebSocket } from 'ws';
import type { Handlers, SocketHandlers } from '../register.js';
import type { ApiContext, AuthUser } from '../context.js';
import type { RouteOutput } from '../contract/index.js';
import { appFor, appOfChild } from '../access.js';
import { badRequest, conflict, notFound } from '../errors.js';
import { queryLogLines } from '../../store/logs.js';
import { decodeCursor, encodeCursor, parseLogTime } from '../../domain/logs.js';
import * as releases from '../../store/releases.js';
import * as containers from '../../store/containers.js';
import type { ContainerRow } from '../../store/containers.js';
import type { LogLine } from '../../runtime/types.js';
import { START_REQUESTED, stoppedBy } from '../../domain/containers.js';

type Container = RouteOutput<'getContainer'>;

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
    process_type: row.process_type,
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

/** Containers and their logs. Start and stop only mark the row; the app controller acts on it. */
export const containerHandlers = {
  async listContainers({ user, query }, ctx) {
    let rows: (ContainerRow & { slug: string })[];
    if (query.app) {
      const app = await appFor(ctx, user, query.app);
      rows = (await containers.containersOfApp(ctx.db, app.id)).map((r) => ({ ...r, slug: app.slug }));
    } else {
      rows = await containers.visibleContainers(ctx.db, user.id);
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
    const now = Date.now();
    const time = (field: 'since' | 'until') => {
      const raw = query[field];
      if (raw === undefined) return undefined;
      const t = parseLogTime(raw, now);
      if (!t) throw badRequest(`${field} must be a time: 2h, 30m, 7d, 45s, ISO 8601 with a zone (2026-01-02T03:04:05Z), or unix seconds`, field);
      return t;
    };
    const since = time('since');
    const until = time('until');
    if (since && until && since >= until) throw badRequest('until must be after since', 'until');
    const before = query.before === undefined ? undefined : decodeCursor(query.before);
    if (before === null) throw badRequest('before must be the `before` of a previous page', 'before');
    const limit = query.limit ?? query.tail ?? 200;
    // One more than asked: whether an older page exists, without a count over the range.
    const rows = await queryLogLines(ctx.db, app.id, { since, until, grep: query.grep, type: query.type, replica: query.replica, before, limit: limit + 1 });
    const page = rows.slice(0, limit).reverse();
    return {
      lines: page.map((r) => ({ time: r.time, stream: r.stream, line: r.line, container: r.container, process_type: r.process_type, replica: r.replica, release: r.release })),
      before: rows.length > limit ? encodeCursor(page[0]) : null,
    };
  },
} satisfies Handlers;

/** How often an open app log looks for replicas started since it opened (a scale, a restart, a deploy). */
const REPLICA_PASS_MS = 2000;

/**
 * Follows each container's log into the socket. With `more`, the app's containers are listed again
 * every 2 s and new ones followed from their start, so an open view shows replicas as they come.
 */
function followLogs(ctx: ApiContext, socket: WebSocket, send: (l: LogLine & { container: string; process_type: string; replica: number }) => void, rows: ContainerRow[], tail: number, more?: () => Promise<ContainerRow[]>) {
  const abort = new AbortController();
  const followed = new Set<string>();
  const follow = (r: ContainerRow, from: { tail: number } | { since: number }) => {
    followed.add(r.docker_id!);
    void (async () => {
      try {
        for await (const l of ctx.runtime.logs(r.docker_id!, { ...from, follow: true, signal: abort.signal })) send({ ...l, container: r.name, process_type: r.process_type, replica: r.replica });
      } catch {
        /* the container went away; the others keep streaming */
      }
    })();
  };
  for (const r of rows.filter((x) => x.docker_id)) follow(r, { tail });
  let timer: NodeJS.Timeout | undefined;
  const pass = async () => {
    try {
      for (const r of await more!()) if (r.docker_id && !followed.has(r.docker_id)) follow(r, { since: Math.floor(Date.parse(r.created_at) / 1000) - 1 });
    } catch {
      /* the next pass tries again */
    }
    if (!abort.signal.aborted) timer = setTimeout(() => void pass(), REPLICA_PASS_MS);
  };
  if (more) timer = setTimeout(() => void pass(), REPLICA_PASS_MS);
  socket.on('close', () => {
    abort.abort();
    clearTimeout(timer);
  });
}

/** The live streams of events and logs (contract: contract/sockets.ts). */

/** Live logs of an app's replicas or of one container (contract: contract/sockets.ts). */
export const containerSockets = {
  followAppLogs: {
    // Checked before the upgrade, and again while open (src/api/socket-guard.ts).
    before: async (req, ctx) => void (await appFor(ctx, req.user, req.params.id)),
    async open(socket, send, req, ctx) {
      try {
        const a = await appFor(ctx, req.user, req.params.id);
        followLogs(ctx, socket, send, await containers.containersOfApp(ctx.db, a.id), req.query.tail ?? 100, () => containers.containersOfApp(ctx.db, a.id));
      } catch (err) {
        send({ error: { message: (err as Error).message } });
        socket.close(1008);
      }
    },
  },
  followContainerLogs: {
    before: async (req, ctx) => void (await containerFor(ctx, req.user, req.params.id)),
    async open(socket, send, req, ctx) {
      try {
        const { row } = await containerFor(ctx, req.user, req.params.id);
        followLogs(ctx, socket, send, [row], req.query.tail ?? 100);
      } catch (err) {
        send({ error: { message: (err as Error).message } });
        socket.close(1008);
      }
    },
  },
} satisfies Partial<SocketHandlers>;
