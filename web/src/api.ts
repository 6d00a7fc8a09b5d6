import { routes, type RouteInput, type RouteName, type RouteOutput } from '../../src/api/contract/index.js';
import { sockets, type SocketInput, type SocketMessage, type SocketName } from '../../src/api/contract/sockets.js';

/**
 * The dashboard's API client. Route names, paths, inputs and outputs all come from the contract
 * (src/api/contract/index.ts), the same source as the server's validation, the OpenAPI document and the
 * CLI; so do the WebSockets' paths, query and messages (src/api/contract/sockets.ts). The browser
 * session is the HttpOnly cookie; this module only holds its CSRF token.
 */
export type { RouteName, RouteOutput, SocketName, SocketMessage };
export type App = RouteOutput<'getApp'>;
export type Project = RouteOutput<'getProject'>;
export type Release = RouteOutput<'getRelease'>;
export type Container = RouteOutput<'getContainer'>;
export type Build = RouteOutput<'getBuild'>;
export type BerthEvent = RouteOutput<'listEvents'>['items'][number];
export type User = RouteOutput<'whoami'>;
export type LogLine = RouteOutput<'appLogs'>['lines'][number];
export type Volume = RouteOutput<'getVolume'>;
export type Addon = RouteOutput<'getAddon'>;
export type AddonJob = RouteOutput<'getAddonJob'>;
export type Run = RouteOutput<'getRun'>;
export type CronJob = RouteOutput<'listCron'>['items'][number];

/** Where a succeeded backup's file downloads from (GET, the session cookie; outside the JSON contract). */
export const backupDownloadUrl = (addon: string, job: string) => pathOf('/api/v1/addons/:id/backups/:job/download', { id: addon, job });

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

let csrfToken = '';
let onUnauthorized: () => void = () => {};
export const whenLoggedOut = (fn: () => void) => (onUnauthorized = fn);

async function send(method: string, path: string, body?: unknown): Promise<unknown> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET') headers['x-csrf-token'] = csrfToken;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    throw new ApiError(res.status, 'bad_response', `unexpected answer (${res.status})`);
  }
  if (!res.ok) {
    const e = (json as { error?: { code: string; message: string; details?: { field?: string } } })?.error;
    if (res.status === 401 && !path.endsWith('/session')) onUnauthorized();
    throw new ApiError(res.status, e?.code ?? 'http_error', e?.message ?? `HTTP ${res.status}`, e?.details?.field);
  }
  return json;
}

function pathOf(template: string, params: Record<string, string | number> = {}): string {
  return template.replace(/:([a-z_]+)/g, (_, k: string) => encodeURIComponent(String(params[k])));
}

/** `?k=v` for the defined values of a query, or ''. */
function queryString(query: Record<string, unknown> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null) q.set(k, String(v));
  return [...q].length ? `?${q}` : '';
}

/** Calls one contract route: `call('scaleApp', { params: { id }, body: { replicas: 3 } })`. */
export async function call<N extends RouteName>(name: N, input: Partial<RouteInput<N>> = {}): Promise<RouteOutput<N>> {
  const def = routes[name];
  const path = pathOf(def.path, (input.params ?? {}) as Record<string, string>) + queryString(input.query as Record<string, unknown>);
  return (await send(def.method, path, input.body)) as RouteOutput<N>;
}

// The browser session (contract/sessions.ts): the server sets the cookie; the page keeps the CSRF token.
export async function currentSession(): Promise<User | null> {
  try {
    const s = await call('getSession');
    csrfToken = s.csrf_token;
    return s.user;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return null;
    throw err;
  }
}
export async function logIn(username: string, password: string): Promise<User> {
  const s = await call('createSession', { body: { username, password } });
  csrfToken = s.csrf_token;
  return s.user;
}
export async function logOut(): Promise<void> {
  await call('deleteSession');
  csrfToken = '';
}

/** The app's traffic and its replicas' CPU and memory now, and its history; null while the server has none for the app. */
export async function appMetrics(app: string, range: { from?: string; to?: string; step?: number } = {}): Promise<RouteOutput<'getAppMetrics'> | null> {
  try {
    return await call('getAppMetrics', { params: { id: app }, query: range });
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
}

/** A socket of the contract and what to open it with: `{ name: 'followAppLogs', input: { params: { id }, query: { tail: 1000 } } }`. */
export type SocketCall = { [N in SocketName]: { name: N; input: Partial<SocketInput<N>> } }[SocketName];

/**
 * Opens one of the contract's WebSockets on this origin (the session cookie authenticates it; the
 * server checks the Origin) and hands each message, typed from the contract, to onMessage.
 * Returns the function that closes it; onClose runs when the server or the network closed it.
 */
export function stream<N extends SocketName>(
  name: N,
  input: Partial<SocketInput<N>>,
  onMessage: (msg: SocketMessage<N>) => void,
  onClose?: () => void,
): () => void {
  const url = new URL(pathOf(sockets[name].path, (input.params ?? {}) as Record<string, string>) + queryString(input.query as Record<string, unknown>), location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(url);
  let closed = false;
  ws.onmessage = (e) => {
    try {
      onMessage(JSON.parse(String(e.data)) as SocketMessage<N>);
    } catch {
      /* not JSON: ignore */
    }
  };
  ws.onclose = () => {
    if (!closed) onClose?.();
  };
  return () => {
    closed = true;
    ws.close();
  };
}

/** Sends an archive as the source of a build created with createBuild (POST /api/v1/builds/{id}/upload). */
export async function uploadArchive(buildId: string, file: File): Promise<void> {
  const type = file.name.endsWith('.zip') ? 'application/zip' : file.name.endsWith('.tar') ? 'application/x-tar' : 'application/gzip';
  const res = await fetch(pathOf('/api/v1/builds/:id/upload', { id: buildId }), {
    method: 'POST',
    headers: { 'content-type': type, 'x-csrf-token': csrfToken },
    body: file,
    credentials: 'same-origin',
  });
  if (!res.ok) {
    const e = ((await res.json().catch(() => ({}))) as { error?: { code: string; message: string } }).error;
    throw new ApiError(res.status, e?.code ?? 'http_error', e?.message ?? `HTTP ${res.status}`);
  }
}
