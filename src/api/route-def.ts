import { type TSchema, Type as T } from '@sinclair/typebox';
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
}

export const closed = <P extends Record<string, TSchema>>(props: P) => T.Object(props, { additionalProperties: false });
export const IdParam = closed({ id: S.Id });
