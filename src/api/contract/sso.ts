import { Type as T } from '@sinclair/typebox';
import type { RouteDef } from './route-def.js';

/** Single sign-on with OpenID Connect (src/api/handlers/sso.ts): whether it is on, for the login page. */
export const ssoRoutes = {
  getSso: {
    method: 'GET',
    path: '/api/v1/session/sso',
    summary: 'Whether single sign-on is configured, and where a browser starts it',
    tag: 'auth',
    auth: false,
    access: 'public',
    response: T.Object({ enabled: T.Boolean(), login_url: T.Union([T.String(), T.Null()]) }),
  },
} as const satisfies Record<string, RouteDef>;
