import { timeKey } from './drains.js';

/**
 * The log store's query words: times a user gives (`2h`, an ISO time, unix seconds) and the page
 * cursor. Pure functions: the API turns their `null` into a 400 naming the field.
 */

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A time as a timeKey (sorts as the stored times do), from `2h` / `30m` / `7d` / `45s` (that long
 * before now), an ISO 8601 time with a zone, or unix seconds; null when it is none of them.
 */
export function parseLogTime(raw: string, now: number): string | null {
  const s = raw.trim();
  const rel = /^(\d{1,7})([smhd])$/.exec(s);
  if (rel) return isoKey(now - Number(rel[1]) * UNIT_MS[rel[2]]);
  if (/^\d{1,12}$/.test(s)) return isoKey(Number(s) * 1000);
  // A zone is required: a time without one would mean the server's zone, which the user cannot see.
  if (!/^\d{4}-\d\d-\d\d(T\d\d:\d\d(:\d\d(\.\d{1,9})?)?)?(Z|[+-]\d\d:\d\d)$/.test(s) && !/^\d{4}-\d\d-\d\d$/.test(s)) return null;
  const ms = Date.parse(s);
  return Number.isFinite(ms) ? isoKey(ms) : null;
}

function isoKey(ms: number): string | null {
  if (!Number.isFinite(ms) || ms < 0 || ms > 253_402_300_799_000) return null;
  return timeKey(new Date(ms).toISOString());
}

/** A page cursor: the oldest line of the page, as `<time>~<id>`. */
export const encodeCursor = (c: { time: string; id: number }) => `${c.time}~${c.id}`;

export function decodeCursor(raw: string): { time: string; id: number } | null {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z)~(\d{1,15})$/.exec(raw);
  return m ? { time: m[1], id: Number(m[2]) } : null;
}

/** The line the collector stores where it had to drop lines (its buffer was full). */
export const droppedLine = (n: number) => `[berth] ${n} log line${n === 1 ? '' : 's'} dropped: the log store fell behind`;
