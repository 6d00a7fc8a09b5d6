import { LABEL } from '../runtime/labels.js';

/** Seconds between SIGTERM and SIGKILL when Berth stops a replica (retire, stop, delete). */
export const STOP_GRACE_S = 10;

/** Each project's own bridge network; its apps reach each other by name on it. */
export const projectNetwork = (projectId: string) => `berth-${projectId}`;

/** The labels of a project's network. */
export const networkLabels = (instanceId: string, projectId: string) => ({ [LABEL.instance]: instanceId, [LABEL.project]: projectId });

/** The engine name of a replica: unique per app, release, replica index and restart generation. */
export const containerName = (app: { slug: string; id: string }, version: number, replica: number, gen: number, processType = 'web') =>
  `${app.slug}-${app.id.slice(4, 10)}-v${version}-${processType === 'web' ? '' : `${processType}-`}r${replica}-g${gen}`;

/** The routed process type: its replicas answer HTTP and take traffic; every other type only runs. */
export const WEB = 'web';

/** Where a replica answers its health check. The path is the release's (see docs/architecture.md, "When settings apply"). */
export const healthUrl = (address: string, port: number, path: string) => `http://${address}:${port}${path}`;

/**
 * A replica stopped or started through the API: the handler writes the row (status and message),
 * the app controller does the rest. A started row's message tells its exit from a crash.
 */
export const stoppedBy = (username: string) => `stopped by ${username}`;
export const START_REQUESTED = 'start requested';
