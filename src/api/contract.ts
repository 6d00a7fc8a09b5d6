import type { Static } from '@sinclair/typebox';
import type { BodyOf, ParamsAndQuery } from './route-def.js';
import { authRoutes } from './contract-auth.js';
import { userRoutes } from './contract-users.js';
import { projectRoutes } from './contract-projects.js';
import { appRoutes } from './contract-apps.js';
import { releaseRoutes } from './contract-releases.js';
import { containerRoutes } from './contract-containers.js';
import { eventRoutes } from './contract-events.js';
import { buildRoutes } from './contract-builds.js';
import { domainRoutes } from './contract-domains.js';
import { routerRoutes } from './contract-router.js';
import { metricsRoutes } from './contract-metrics.js';
import { vendorRoutes } from './contract-vendors.js';
import { webhookRoutes } from './contract-webhooks.js';
import { registryRoutes } from './contract-registries.js';
import { imageRoutes } from './contract-images.js';
import { notificationRoutes } from './contract-notifications.js';
import { sessionRoutes } from './contract-sessions.js';
import { clusterRoutes } from './contract-cluster.js';
import { volumeRoutes } from './contract-volumes.js';
import { runRoutes } from './contract-runs.js';
import { addonRoutes } from './contract-addons.js';
import { auditRoutes } from './contract-audit.js';
import { ssoRoutes } from './contract-sso.js';

export type { RouteDef } from './route-def.js';

/**
 * Every route of the REST API, declared once. The server validates requests and serializes
 * responses with these schemas, the OpenAPI document is generated from them, and the client
 * library (and so the CLI) takes its types from them: one source of truth.
 * One file per resource beside this one (contract-<resource>.ts); WebSockets in contract-sockets.ts.
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
