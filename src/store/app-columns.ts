/**
 * The JSON columns of `apps` (and the env a release freezes), decoded and checked here once: nothing
 * above the store parses or writes their text. A row whose text is not the expected shape is a
 * corrupt database, not bad input: it throws.
 */

/** Config vars as stored: secret values are sealed, so a database dump does not reveal them. */
export type StoredEnv = Record<string, { v: string; s?: 1 }>;

export interface HealthCheck {
  /** Absent only in rows older than its check: readers fall back to '/'. */
  path: string;
  timeout_s: number;
  grace_s: number;
}

/** A project volume mounted by an app or frozen in a release: by name, with its id, at an absolute path. */
export interface MountColumn {
  volume: string;
  volume_id: string;
  path: string;
}

/** Cluster mode: where the replicas may run. */
export interface Placement {
  constraints: string[];
}

export class ColumnError extends Error {}

function parse(column: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ColumnError(`column ${column} holds text that is not JSON`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');

function check<T>(column: string, v: unknown, ok: (v: unknown) => boolean): T {
  if (!ok(v)) throw new ColumnError(`column ${column} does not hold the expected shape`);
  return v as T;
}

const isEnv = (v: unknown) => isObject(v) && Object.values(v).every((e) => isObject(e) && typeof e.v === 'string');
// Its fields are checked where they are used (the router falls back to '/' for a path it cannot send).
const isHealth = isObject;
const isMounts = (v: unknown) => Array.isArray(v) && v.every((m) => isObject(m) && typeof m.volume === 'string' && typeof m.path === 'string');
const isPlacement = (v: unknown) => isObject(v) && isStrings(v.constraints);

export const decodeEnv = (text: string, column = 'env'): StoredEnv => check(column, parse(column, text), isEnv);
export const encodeEnv = (env: StoredEnv): string => JSON.stringify(env);

export const decodeHealthCheck = (text: string): HealthCheck => check('health_check', parse('health_check', text), isHealth);
export const encodeHealthCheck = (h: HealthCheck): string => JSON.stringify(h);

export const decodeMounts = (text: string): MountColumn[] => check('volumes', parse('volumes', text), isMounts);
export const encodeMounts = (m: MountColumn[]): string => JSON.stringify(m);

export const decodeCommand = (text: string | null, column: string): string[] | null =>
  text === null ? null : check(column, parse(column, text), isStrings);
/** No command at all is stored as none (null). */
export const encodeCommand = (argv: string[] | null): string | null => (argv?.length ? JSON.stringify(argv) : null);
/** A command that is always there (runs, schedules): an argv array. */
export const decodeArgv = (text: string, column: string): string[] => check(column, parse(column, text), isStrings);
export const encodeArgv = (argv: string[]): string => JSON.stringify(argv);

export const decodePlacement = (text: string | null | undefined): Placement | null =>
  text ? check('placement', parse('placement', text), isPlacement) : null;
/** No constraint at all is stored as none; a constraint given twice is stored once. */
export const encodePlacement = (p: Placement | null | undefined): string | null =>
  p?.constraints.length ? JSON.stringify({ constraints: [...new Set(p.constraints)] }) : null;
