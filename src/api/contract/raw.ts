import type { Access } from './route-def.js';

/**
 * The routes mounted outside the JSON contract (raw bodies and streams), with the rule each one
 * enforces. Their handlers read `need` from here, and the authorization matrix test checks them
 * beside the contract's routes and sockets.
 */
export interface RawRouteDef {
  method: 'GET' | 'POST';
  /** A path with `{param}` placeholders, as the test fills them. */
  path: string;
  access: Access;
  /** Why the rule is what it is, when it is not obvious. */
  why?: string;
}

export const rawRoutes = {
  uploadBuildSource: { method: 'POST', path: '/api/v1/builds/{id}/upload', access: 'developer' },
  downloadAddonBackup: {
    method: 'GET',
    path: '/api/v1/addons/{id}/backups/{job}/download',
    access: 'developer',
    why: 'a backup holds the whole database: as much as a psql session, which needs developer',
  },
  downloadVolumeBackup: {
    method: 'GET',
    path: '/api/v1/volumes/{id}/backups/{job}/download',
    access: 'developer',
    why: 'a backup holds every file of the volume, secrets the app wrote included',
  },
  gitFetch: { method: 'GET', path: '/git/{slug}.git/info/refs?service=git-upload-pack', access: 'viewer' },
  gitPush: { method: 'GET', path: '/git/{slug}.git/info/refs?service=git-receive-pack', access: 'developer' },
  ssoStart: { method: 'GET', path: '/api/v1/session/oidc/start', access: 'public', why: 'the start of a login' },
  ssoCallback: { method: 'GET', path: '/api/v1/session/oidc/callback', access: 'public', why: 'the provider’s answer, checked against the state this browser was given' },
  receiveWebhook: { method: 'POST', path: '/api/v1/webhooks/{id}', access: 'public', why: 'no token: the provider signs the body with the app’s webhook secret' },
} as const satisfies Record<string, RawRouteDef>;
