import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { routes, type RouteInput, type RouteName, type RouteOutput } from './contract.js';
import { sockets, type SocketInput, type SocketMessage, type SocketName } from './contract-sockets.js';
import { ErrorBody } from './schemas.js';
import type { ApiContext, AuthUser } from './context.js';
import { CachedAnswer } from './read-cache.js';

export type HandlerRequest<N extends RouteName> = RouteInput<N> & {
  /** The caller; routes with auth: false get null. */
  user: AuthUser;
  raw: FastifyRequest;
};
export type Handler<N extends RouteName> = (req: HandlerRequest<N>, ctx: ApiContext) => Promise<RouteOutput<N>>;
/** Handlers of some routes: what each resource's handler file exports (`satisfies Handlers`). */
export type Handlers = { [N in RouteName]?: Handler<N> };
/** Every route's handler: the server mounts this, so a contract route without a handler does not compile. */
export type AllHandlers = { [N in RouteName]: Handler<N> };

export type SocketRequest<N extends SocketName> = SocketInput<N> & { user: AuthUser; raw: FastifyRequest };
export interface SocketHandler<N extends SocketName> {
  /** Runs before the upgrade: a bad id or a stranger gets a plain HTTP error instead of a socket. */
  before?: (req: SocketRequest<N>, ctx: ApiContext) => Promise<void>;
  /** The socket is open; `send` takes only the messages the contract declares for it. */
  open: (socket: WebSocket, send: (msg: SocketMessage<N>) => void, req: SocketRequest<N>, ctx: ApiContext) => void | Promise<void>;
}
export type SocketHandlers = { [N in SocketName]: SocketHandler<N> };

declare module 'fastify' {
  interface FastifyRequest {
    user: AuthUser | null;
  }
  interface FastifyContextConfig {
    auth?: boolean;
  }
}

/** Registers each handler on its contract route, with the contract's schemas and status. */
export function mountRoutes(app: FastifyInstance, ctx: ApiContext, handlers: AllHandlers) {
  for (const [name, handler] of Object.entries(handlers) as [RouteName, Handler<RouteName>][]) {
    const def = routes[name] as (typeof routes)[RouteName] & Record<string, unknown>;
    const status = (def.status as number | undefined) ?? 200;
    const auth = def.auth !== false;
    app.route({
      method: def.method,
      url: def.path,
      config: { auth },
      schema: {
        operationId: name,
        summary: def.summary,
        tags: [def.tag],
        // Public operations say so explicitly; the others repeat the document's default.
        security: auth ? [{ bearer: [] }] : [],
        ...(def.params ? { params: def.params } : {}),
        ...(def.query ? { querystring: def.query } : {}),
        ...(def.body ? { body: def.body } : {}),
        response: { [status]: def.response, '4xx': ErrorBody },
      },
      handler: async (req, reply) => {
        const out = await handler(
          {
            params: (req.params ?? {}) as never,
            query: (req.query ?? {}) as never,
            body: req.body as never,
            user: req.user as AuthUser,
            raw: req,
          },
          ctx,
        );
        reply.code(status);
        if (out instanceof CachedAnswer) {
          return reply.type('application/json; charset=utf-8').send(out.bytes((v) => String(reply.serialize(v))));
        }
        return out;
      },
    });
  }
}

const socketRequest = (req: FastifyRequest) => ({
  params: (req.params ?? {}) as never,
  query: (req.query ?? {}) as never,
  user: req.user as AuthUser,
  raw: req,
});

/** Registers each WebSocket handler on its contract path; all of them need a token. */
export function mountSockets(app: FastifyInstance, ctx: ApiContext, handlers: SocketHandlers) {
  for (const [name, h] of Object.entries(handlers) as [SocketName, SocketHandler<SocketName>][]) {
    const before = h.before;
    app.get(
      sockets[name].path,
      {
        websocket: true,
        config: { auth: true },
        schema: { hide: true },
        ...(before ? { preValidation: async (req: FastifyRequest) => before(socketRequest(req), ctx) } : {}),
      },
      (socket: WebSocket, req) => {
        const send = (msg: unknown) => {
          if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(msg));
        };
        return h.open(socket, send, socketRequest(req), ctx);
      },
    );
  }
}
