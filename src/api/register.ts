import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { routes, type RouteDef, type RouteInput, type RouteName, type RouteOutput } from './contract/index.js';
import { sockets, type SocketDef, type SocketInput, type SocketMessage, type SocketName } from './contract/sockets.js';
import { Type as T, TypeGuard, type TSchema } from '@sinclair/typebox';
import { ErrorBody } from './contract/schemas.js';
import type { ApiContext, AuthUser } from './context.js';
import { CachedAnswer } from './read-cache.js';
import type { SocketGuard } from './socket-guard.js';

export type HandlerRequest<N extends RouteName> = RouteInput<N> & {
  /** The caller; routes with auth: false get null. */
  user: AuthUser;
  raw: FastifyRequest;
  /** Sets a response header the route declares (`headers` in its contract entry). */
  header: (name: string, value: string) => void;
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

/** The success response as OpenAPI shows it: its schema, and the headers the route sets. */
function successSchema(def: { response: unknown; headers?: Record<string, string> }) {
  if (!def.headers) return def.response;
  const headers = Object.fromEntries(Object.entries(def.headers).map(([k, description]) => [k, { type: 'string', description }]));
  return { ...(def.response as object), headers };
}

/** Registers each handler on its contract route, with the contract's schemas and status. */
export function mountRoutes(app: FastifyInstance, ctx: ApiContext, handlers: AllHandlers) {
  for (const [name, handler] of Object.entries(handlers) as [RouteName, Handler<RouteName>][]) {
    const def = routes[name] as RouteDef;
    const status = (def.status as number | undefined) ?? 200;
    const auth = def.auth !== false;
    // The declared rule and the token check must agree: a public route is exactly one without a token.
    if ((def.access === 'public') !== !auth) throw new Error(`route ${name}: access "${def.access}" but auth ${auth}`);
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
        response: { [status]: successSchema(def), '4xx': ErrorBody },
        ...(def.produces ? { produces: [def.produces] } : {}),
      },
      handler: async (req, reply) => {
        const out = await handler(
          {
            params: (req.params ?? {}) as never,
            query: (req.query ?? {}) as never,
            body: req.body as never,
            user: req.user as AuthUser,
            raw: req,
            header: (name, value) => void reply.header(name, value),
          },
          ctx,
        );
        reply.code(status);
        if (def.produces) return reply.type(def.produces).send(out);
        if (out instanceof CachedAnswer) {
          return reply.type('application/json; charset=utf-8').send(out.bytes((v) => String(reply.serialize(v))));
        }
        return out;
      },
    });
  }
}

/** A socket's declared query plus the `token` a browser may send instead of a header (see server.ts). */
function socketQuery(query: TSchema | undefined): TSchema {
  const token = { token: T.Optional(T.String()) };
  return query && TypeGuard.IsObject(query)
    ? T.Object({ ...query.properties, ...token }, { additionalProperties: query.additionalProperties ?? true })
    : T.Object(token);
}

const socketRequest = (req: FastifyRequest) => ({
  params: (req.params ?? {}) as never,
  query: (req.query ?? {}) as never,
  user: req.user as AuthUser,
  raw: req,
});

/**
 * Registers each WebSocket handler on its contract path; all of them need a token. Each open socket
 * is handed to `guard`, which closes it once its credential or its access check fails.
 */
export function mountSockets(app: FastifyInstance, ctx: ApiContext, handlers: SocketHandlers, guard: SocketGuard) {
  for (const [name, h] of Object.entries(handlers) as [SocketName, SocketHandler<SocketName>][]) {
    const before = h.before;
    const def = sockets[name] as SocketDef;
    app.get(
      def.path,
      {
        websocket: true,
        config: { auth: true },
        // Params and query are checked before the upgrade, as on the HTTP routes: a bad value is a 400 naming the field.
        schema: { hide: true, ...(def.params ? { params: def.params } : {}), querystring: socketQuery(def.query) },
        // After validation: a handler reads its params and query as the contract types them.
        ...(before ? { preHandler: async (req: FastifyRequest) => before(socketRequest(req), ctx) } : {}),
      },
      (socket: WebSocket, req) => {
        const send = (msg: unknown) => {
          if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(msg));
        };
        guard.add({ socket, user: req.user as AuthUser, ...(before ? { recheck: () => before(socketRequest(req), ctx) } : {}) });
        return h.open(socket, send, socketRequest(req), ctx);
      },
    );
  }
}
