import type { Static } from '@sinclair/typebox';
import type { BodyOf, ParamsAndQuery } from './route-def.js';
import { authRoutes } from './auth.js';
import { userRoutes } from './users.js';
import { projectRoutes } from './projects.js';
import { appRoutes } from './apps.js';
import { releaseRoutes } from './releases.js';
import { containerRoutes } from './containers.js';
import { eventRoutes } from './events.js';
import { buildRoutes } from './builds.js';
import { domainRoutes } from './domains.js';
import { routerRoutes } from './router.js';
import { metricsRoutes } from './metrics.js';
import { vendorRoutes } from './vendors.js';
import { webhookRoutes } from './webhooks.js';
import { registryRoutes } from './registries.js';
import { imageRoutes } from './images.js';
import { notificationRoutes } from './notifications.js';
import { alertRoutes } from './alerts.js';
import { drainRoutes } from './drains.js';
import { sessionRoutes } from './sessions.js';
import { clusterRoutes } from './cluster.js';
import { volumeRoutes } from './volumes.js';
import { runRoutes } from './runs.js';
import { addonRoutes } from './addons.js';
import { auditRoutes } from './audit.js';
import { ssoRoutes } from './sso.js';

export type { RouteDef } from './route-def.js';

/**
 * Every route of the REST API, declared once. The server validates requests and serializes
 * responses with these schemas, the OpenAPI document is generated from them, and the client
 * library (and so the CLI) takes its types from them: one source of truth.
 * One file per resource beside this one (<resource>.ts); WebSockets in sockets.ts.
 */
export const routes = {
  ...authRoutes,
  ...userRoutes,
  ...projectRoutes,
  ...appRoutes,
  ...releaseRoutes,
  ...containerRoutes,
  ...eventRoutes,
  ...buildRoutes,
  ...domainRoutes,
  ...routerRoutes,
  ...metricsRoutes,
  ...vendorRoutes,
  ...webhookRoutes,
  ...registryRoutes,
  ...imageRoutes,
  ...notificationRoutes,
  ...alertRoutes,
  ...drainRoutes,
  ...sessionRoutes,
  ...clusterRoutes,
  ...volumeRoutes,
  ...runRoutes,
  ...addonRoutes,
  ...auditRoutes,
  ...ssoRoutes,
};

export type Routes = typeof routes;
export type RouteName = keyof Routes;

/** What a caller sends for a route: path params, query string and body, each typed from the schema. */
export type RouteInput<N extends RouteName> = ParamsAndQuery<Routes[N]> & { body: BodyOf<Routes[N]> };
export type RouteOutput<N extends RouteName> = Static<Routes[N]['response']>;
