import type { Handlers, SocketHandlers } from '../register.js';
import { projectIdsOf } from '../../store/projects.js';
import type { ApiContext, AuthUser } from '../context.js';
import { appFor } from '../access.js';
import type { BerthEvent } from '../../domain/events.js';

async function visibleProjects(ctx: ApiContext, user: AuthUser): Promise<string[]> {
  return projectIdsOf(ctx.db, user.id);
}

/** Streams live log lines of some containers into a socket until it closes. */

/** Events of every project the caller is a member of. */
export const eventHandlers = {
  async listEvents({ user, query }, ctx) {
    const projects = await visibleProjects(ctx, user);
    const appId = query.app ? (await appFor(ctx, user, query.app)).id : undefined;
    return { items: await ctx.events.list(projects, { appId, after: query.after, limit: query.limit ?? 100 }) };
  },
} satisfies Handlers;

/** The same, live (contract: contract/sockets.ts). */
export const eventSockets = {
  followEvents: {
    open(socket, send, req, ctx) {
      const user = req.user;
      // A failed read (database restarting) sends nothing rather than failing the socket.
      const load = () => visibleProjects(ctx, user).then((ids) => new Set(ids), () => new Set<string>());
      // Subscribed as the socket opens, so nothing that happens after the open is missed.
      let projects = load();
      let loadedAt = Date.now();
      const unsubscribe = ctx.events.subscribe(async (e: BerthEvent) => {
        // Membership can change while the socket is open: re-read it for projects not yet known, and
        // at least every second, so a member removed from a project stops getting its events.
        if (!(await projects).has(e.project_id) || Date.now() - loadedAt > 1000) {
          projects = load();
          loadedAt = Date.now();
        }
        if ((await projects).has(e.project_id)) send(e);
      });
      socket.on('close', unsubscribe);
    },
  },
} satisfies Partial<SocketHandlers>;
