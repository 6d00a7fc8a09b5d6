import { type Static, type TSchema, Type as T } from '@sinclair/typebox';
import * as S from './schemas.js';

/**
 * Who may call a route or open a socket (docs/security.md, "Access control"):
 * - `public`: no token (login, Berth's CA certificate);
 * - `user`: any signed-in user, on their own things (tokens, vendor and registry accounts, a new
 *   project); another user's id answers 404;
 * - `admin`: admins only;
 * - `viewer` / `developer` / `owner`: at least this role in the project of what the route names
 *   (in its path, or in its `project`/`app` query or body field); a non-member, admins included,
 *   gets the 404 of something that does not exist, a member with a lower role a 403.
 * Required on every route: a route without a rule does not compile, and the authorization matrix
 * test (test/security/authz-matrix.test.ts) checks each one for every role.
 */
export type Access = 'public' | 'user' | 'admin' | 'viewer' | 'developer' | 'owner';
export const PROJECT_ROLES = ['viewer', 'developer', 'owner'] as const;

export interface RouteDef {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  summary: string;
  tag: string;
  /** false: no token needed (exactly the `public` routes). */
  auth?: boolean;
  access: Access;
  params?: TSchema;
  query?: TSchema;
  body?: TSchema;
  /** Success status (default 200). */
  status?: number;
  response: TSchema;
  /**
   * The success body's media type when it is not JSON (a PEM file): the handler's string is sent
   * as it is, and the client returns the text.
   */
  produces?: string;
  /** Response headers the handler sets (Set-Cookie, Content-Disposition), documented in OpenAPI. */
  headers?: Record<string, string>;
}

export const closed = <P extends Record<string, TSchema>>(props: P) => T.Object(props, { additionalProperties: false });
export const IdParam = closed({ id: S.Id });

type StaticOr<R, K extends string, Else> = R extends { [P in K]: infer X extends TSchema } ? Static<X> : Else;

/** A route's or socket's path params and query string, typed from its schemas (none: an empty object). */
export type ParamsAndQuery<D> = {
  params: StaticOr<D, 'params', Record<string, never>>;
  query: StaticOr<D, 'query', Record<string, never>>;
};
/** A route's body, typed from its schema (none: undefined). */
export type BodyOf<D> = StaticOr<D, 'body', undefined>;
