import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import { EgressRefused } from '../lib/egress.js';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import websocket from '@fastify/websocket';
import { Ajv, type ErrorObject } from 'ajv';
import type { ApiContext } from './context.js';
import { mountRoutes, mountSockets } from './register.js';
import { HttpError } from './errors.js';
import { bearerToken } from './bearer.js';
import { isUniqueViolation } from '../store/db.js';
import { touchToken } from '../store/users.js';
import { TokenUsers } from './token-cache.js';
import { arrivalCount } from './read-cache.js';
import { authHandlers } from './handlers/auth.js';
import { userHandlers } from './handlers/users.js';
import { projectHandlers } from './handlers/projects.js';
import { appHandlers } from './handlers/apps.js';
import { appActionHandlers } from './handlers/app-actions.js';
import { releaseHandlers } from './handlers/releases.js';
import { containerHandlers, containerSockets } from './handlers/containers.js';
import { eventHandlers, eventSockets } from './handlers/events.js';
import { buildHandlers, registerBuildExtras } from './handlers/builds.js';
import { followBuildLog } from './handlers/build-ws.js';
import { domainHandlers } from './handlers/domains.js';
import { sessionUser } from './session.js';
import { sessionHandlers } from './handlers/sessions.js';
import { vendorHandlers } from './handlers/vendors.js';
import { webhookHandlers } from './handlers/webhooks.js';
import { registryHandlers } from './handlers/registries.js';
import { imageHandlers } from './handlers/images.js';
import { notificationHandlers } from './handlers/notifications.js';
import { alertHandlers } from './handlers/alerts.js';
import { drainHandlers } from './handlers/drains.js';
import { registerWebhookReceiver } from './handlers/webhook-receive.js';
import { registerVolumeDownload, volumeHandlers } from './handlers/volumes.js';
import { runHandlers } from './handlers/runs.js';
import { followRun } from './handlers/run-ws.js';
import { addonSession } from './handlers/addon-session.js';
import { attachRun } from './handlers/run-tty.js';
import { addonHandlers, registerAddonDownload } from './handlers/addons.js';
import { isScreenPath, registerWeb } from './web.js';
import { SocketGuard } from './socket-guard.js';
import { requestForLog } from './log-redact.js';
import { registerAudit } from './audit.js';
import { auditHandlers } from './handlers/audit.js';
import { registerSso, ssoHandlers } from './handlers/sso.js';

/** How often open WebSockets are checked again (a revoked token or a removed member loses them within this). */
const SOCKET_RECHECK_MS = 2000;
import { routerHandlers } from './handlers/router.js';
import { metricsHandlers } from './handlers/metrics.js';
import { clusterHandlers } from './handlers/cluster.js';

const ajvOptions = { removeAdditional: false, useDefaults: true, allErrors: false, strict: false, verbose: true } as const;
// Bodies are JSON: a string is never silently turned into a number. Query strings and path params are text, so they are coerced.
const bodyAjv = new Ajv({ ...ajvOptions, coerceTypes: false });
const paramAjv = new Ajv({ ...ajvOptions, coerceTypes: 'array' });

/** `health_check.path` for an ajv error, naming the offending field the way a user wrote it. */
function fieldOf(e: ErrorObject): string {
  const parts = e.instancePath.split('/').filter(Boolean).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  const p = e.params as { missingProperty?: string; additionalProperty?: string };
  if (p.missingProperty) parts.push(p.missingProperty);
  if (p.additionalProperty) parts.push(p.additionalProperty);
  return parts.join('.');
}

function describe(e: ErrorObject, where: string): string {
  const field = fieldOf(e);
  const p = e.params as { additionalProperty?: string };
  if (e.keyword === 'additionalProperties') return `${where} field "${p.additionalProperty}" is not allowed`;
  if (e.keyword === 'required') return `${field} is required`;
  const hint = (e.parentSchema as { description?: string } | undefined)?.description;
  const what = field || where;
  if (e.keyword === 'pattern' && hint) return `${what} must be ${hint}`;
  if (e.keyword === 'anyOf' && hint) return `${what} must be ${hint}`;
  return `${what} ${e.message ?? 'is invalid'}`;
}

/** PostgreSQL's class 22 (data exception: numeric_value_out_of_range, invalid_text_representation, ...). */
function isDataException(err: unknown): boolean {
  const e = err as { code?: unknown; severity?: unknown };
  return typeof e?.code === 'string' && /^22[0-9A-Z]{3}$/.test(e.code) && typeof e.severity === 'string';
}

/** The path of the first string (key or value) holding a NUL character, or null. Iterative: bodies may nest deeply. */
function nulField(root: unknown): string | null {
  const stack: [unknown, string][] = [[root, '']];
  while (stack.length) {
    const [v, path] = stack.pop()!;
    if (typeof v === 'string') {
      if (v.includes('\u0000')) return path;
    } else if (v && typeof v === 'object') {
      for (const [k, child] of Object.entries(v)) {
        const p = path ? `${path}.${k}` : k;
        if (k.includes('\u0000')) return p;
        stack.push([child, p]);
      }
    }
  }
  return null;
}

/** PostgreSQL shutting down or unreachable (SQLSTATE 57P0x, class 08, refused or dropped connections). */
function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  const code = e?.code ?? '';
  return (
    /^57P0/.test(code) ||
    /^08/.test(code) ||
    code === 'ECONNREFUSED' ||
    code === 'ECONNRESET' ||
    /Connection terminated|timeout exceeded when trying to connect/i.test(e?.message ?? '')
  );
}

export async function buildServer(ctx: ApiContext): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    // A WebSocket's ?token= must not reach the request log (src/api/log-redact.ts).
    loggerInstance: ctx.log.child({}, { serializers: { req: requestForLog } }) as FastifyBaseLogger,
    bodyLimit: ctx.config.bodyLimit,
    requestIdHeader: 'x-request-id',
    genReqId: () => crypto.randomUUID(),
    // Slow clients must not hold connections forever.
    requestTimeout: 120_000,
    connectionTimeout: 0,
    return503OnClosing: true,
    routerOptions: { maxParamLength: 200 },
    // A malformed or overlong URL is refused before routing; it still gets the API's JSON error shape.
    frameworkErrors: (err, _req, reply) => {
      const status = (err as FastifyError).statusCode ?? 400;
      void (reply as FastifyReply).code(status).send({ error: { code: status === 414 ? 'uri_too_long' : 'bad_url', message: err.message } });
    },
  });

  app.setValidatorCompiler(({ schema, httpPart }) => {
    const validate = (httpPart === 'body' ? bodyAjv : paramAjv).compile(schema);
    // A body whose fields are all optional may be left out entirely (POST .../rollback with no body).
    if (httpPart === 'body' && (schema as Record<string, unknown>)['x-empty-ok']) {
      const optional = ((d: unknown) => d === undefined || validate(d)) as typeof validate;
      Object.defineProperty(optional, 'errors', { get: () => validate.errors });
      return optional;
    }
    return validate;
  });

  // An empty body on a POST without a body schema (restart, stop, ...) is normal; JSON that does not parse is a 400.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = (body as string).trim();
    if (text === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(new HttpError(400, 'invalid_json', 'the request body is not valid JSON'), undefined);
    }
  });

  app.decorateRequest('user', null);
  const tokenUsers = new TokenUsers(ctx.store);
  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
    // Only contract routes set auth: true; docs, health and unknown paths (404) need no token.
    if (req.routeOptions.config?.auth !== true) return;
    let header = req.headers.authorization;
    // Browsers cannot set headers on a WebSocket, so an upgrade may carry the token as ?token=.
    const queryToken = (req.query as { token?: unknown } | undefined)?.token;
    if (!header && req.headers.upgrade?.toLowerCase() === 'websocket' && typeof queryToken === 'string' && queryToken) {
      header = `Bearer ${queryToken}`;
    }
    // No Authorization header: the dashboard's session cookie, if any (src/api/session.ts).
    if (!header && (req.user = (await sessionUser(ctx, req)) ?? null)) return;
    if (!header) throw new HttpError(401, 'unauthorized', 'a token is required: send "Authorization: Bearer <token>"');
    const token = bearerToken(header);
    if (!token) throw new HttpError(401, 'unauthorized', 'the Authorization header must be "Bearer <token>"');
    const row = await tokenUsers.get(token, arrivalCount(req, ctx.store));
    if (!row) throw new HttpError(401, 'unauthorized', 'the token is invalid, expired or revoked');
    req.user = { id: row.id, username: row.username, is_admin: !!row.is_admin, via: { kind: 'token', id: row.token_id } };
    // Recording use at most once a minute keeps reads from turning into writes.
    if (!row.last_used_at || Date.now() - Date.parse(row.last_used_at) > 60_000) void touchToken(ctx.db, row.token_id).catch(() => {});
  });

  registerAudit(app, ctx, ctx.config.access.auditRetentionDays);

  // PostgreSQL text, environment variables and argv cannot hold NUL: refuse it at the edge, whatever the field.
  app.addHook('preValidation', async (req) => {
    for (const [where, value] of [['params', req.params], ['querystring', req.query], ['body', req.body]] as const) {
      const field = nulField(value);
      if (field !== null) {
        throw new HttpError(400, 'validation_failed', `${field || where} must not contain NUL characters`, { location: where, field: field || where });
      }
    }
  });

  app.setErrorHandler((err: FastifyError & { validationContext?: string }, req, reply) => {
    if (err.validation) {
      const first = err.validation[0] as ErrorObject;
      const where = err.validationContext ?? 'body';
      return reply.code(400).send({
        error: {
          code: 'validation_failed',
          message: describe(first, where),
          details: { location: where, field: fieldOf(first) || where },
        },
      });
    }
    if (err instanceof HttpError) {
      if (err.headers) reply.headers(err.headers);
      return reply.code(err.status).send({ error: { code: err.code, message: err.message, details: err.details } });
    }
    if (err instanceof EgressRefused) {
      return reply.code(400).send({ error: { code: 'egress_refused', message: err.message, details: { field: err.field } } });
    }
    if (isUniqueViolation(err)) {
      return reply.code(409).send({ error: { code: 'conflict', message: 'the resource already exists' } });
    }
    if (isDataException(err)) {
      // PostgreSQL refused a value the schemas let through (an integer past its column, a float underflow): the input's fault.
      req.log.warn({ err }, 'value refused by the database');
      return reply.code(400).send({ error: { code: 'out_of_range', message: `a value in the request is out of range: ${err.message}` } });
    }
    if (isDatabaseUnavailable(err)) {
      // Not the caller's fault and not a bug: the database is restarting or unreachable. Retry later.
      req.log.warn({ err }, 'database unavailable');
      return reply.code(503).header('retry-after', '2').send({ error: { code: 'unavailable', message: 'the database is unavailable; try again shortly' } });
    }
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const code =
        status === 413 ? 'payload_too_large' : status === 415 ? 'unsupported_media_type' : (err.code ?? 'bad_request').toLowerCase();
      return reply.code(status).send({ error: { code, message: err.message } });
    }
    req.log.error({ err }, 'request failed');
    return reply.code(500).send({ error: { code: 'internal', message: 'internal error; see the server log', details: { request_id: req.id } } });
  });

  // Set once the dashboard is registered (below): an unknown page a browser asks for gets the dashboard's not-found screen.
  let dashboard: Awaited<ReturnType<typeof registerWeb>> = null;
  app.setNotFoundHandler((req, reply) => {
    if (dashboard && isScreenPath(req.method, req.url)) return dashboard(reply.code(404));
    reply.code(404).send({ error: { code: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0]}` } });
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Berth API',
        version: '1',
        description: 'Self-hosted platform for containerized applications.',
        license: { name: 'MIT', url: 'https://opensource.org/licenses/MIT' },
      },
      // Relative: the document describes the server that serves it, wherever it runs.
      servers: [{ url: '/', description: 'this Berth server' }],
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'An API token (berth login, or POST /api/v1/tokens)' } },
      },
      // Every operation needs a token unless it says otherwise (login: security []).
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/api/docs' });
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });

  app.get('/api/openapi.json', { schema: { hide: true }, config: { auth: false } }, async () => app.swagger());
  app.get('/healthz', { schema: { hide: true }, config: { auth: false } }, async (_req, reply) => {
    try {
      await ctx.store.ping();
      return { status: 'ok', database: ctx.store.engine, instance: ctx.instanceId };
    } catch (err) {
      return reply.code(503).send({ error: { code: 'unavailable', message: `database not ready: ${(err as Error).message}` } });
    }
  });

  mountRoutes(app, ctx, {
    ...authHandlers,
    ...userHandlers,
    ...projectHandlers,
    ...appHandlers,
    ...appActionHandlers,
    ...releaseHandlers,
    ...containerHandlers,
    ...eventHandlers,
    ...buildHandlers,
    ...domainHandlers,
    ...routerHandlers,
    ...metricsHandlers,
    ...vendorHandlers,
    ...webhookHandlers,
    ...registryHandlers,
    ...imageHandlers,
    ...notificationHandlers,
    ...alertHandlers,
    ...drainHandlers,
    ...sessionHandlers,
    ...clusterHandlers,
    ...volumeHandlers,
    ...runHandlers,
    ...addonHandlers,
    ...auditHandlers,
    ...ssoHandlers,
  });
  const guard = new SocketGuard(ctx.db, ctx.log, SOCKET_RECHECK_MS);
  app.addHook('onClose', async () => guard.stop());
  mountSockets(app, ctx, { ...eventSockets, ...containerSockets, followBuildLog, followRun, attachRun, addonSession }, guard);
  await registerBuildExtras(app, ctx);
  await registerWebhookReceiver(app, ctx);
  registerAddonDownload(app, ctx);
  registerVolumeDownload(app, ctx);
  registerSso(app, ctx);
  dashboard = await registerWeb(app, ctx);
  return app;
}
