import type { FastifyInstance, FastifyRequest } from 'fastify';
import { routes, type RouteInput, type RouteName, type RouteOutput } from './contract.js';
import { ErrorBody } from './schemas.js';
import type { ApiContext, AuthUser } from './context.js';
import { CachedAnswer } from './read-cache.js';

export type HandlerRequest<N extends RouteName> = RouteInput<N> & {
  /** The caller; routes with auth: false get null. */
  user: AuthUser;
  raw: FastifyRequest;
};
export type Handler<N extends RouteName> = (req: HandlerRequest<N>, ctx: ApiContext) => Promise<RouteOutput<N>>;
export type Handlers = { [N in RouteName]?: Handler<N> };

declare module 'fastify' {
  interface FastifyRequest {
    user: AuthUser | null;
  }
  interface FastifyContextConfig {
    auth?: boolean;
  }
}

/** Registers each handler on its contract route, with the contract's schemas and status. */
export function mountRoutes(app: FastifyInstance, ctx: ApiContext, handlers: Handlers) {
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
        ...(auth ? { security: [{ bearer: [] }] } : {}),
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
