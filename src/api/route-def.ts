import { type Static, type TSchema, Type as T } from '@sinclair/typebox';
import * as S from './schemas.js';

export interface RouteDef {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  summary: string;
  tag: string;
  /** false: no token needed. */
  auth?: boolean;
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
