import { CronExpressionParser } from 'cron-parser';

/** Why a cron expression is no good, or null. Five fields (minute first), or six with seconds first; UTC. */
export function cronProblem(expr: string): string | null {
  const fields = expr.trim().split(/\s+/).length;
  if (fields !== 5 && fields !== 6) return `"${expr}" is not a cron schedule: give 5 fields (m h dom mon dow) or 6 (with seconds first)`;
  try {
    CronExpressionParser.parse(expr, { tz: 'UTC' });
    return null;
  } catch (err) {
    return `"${expr}" is not a cron schedule: ${(err as Error).message}`;
  }
}

/** The latest time at or before `at` the schedule fires (UTC). */
export function lastFiring(expr: string, at: Date): Date {
  // prev() is strictly before currentDate: a firing exactly at `at` counts too.
  return CronExpressionParser.parse(expr, { currentDate: new Date(at.getTime() + 1), tz: 'UTC' }).prev().toDate();
}

/** The next time after `at` the schedule fires (UTC). */
export const nextFiring = (expr: string, at: Date): Date => CronExpressionParser.parse(expr, { currentDate: at, tz: 'UTC' }).next().toDate();

/** How many times the schedule fired in (after, before), both excluded; counting stops at `cap`. */
export function firingsBetween(expr: string, after: Date, before: Date, cap = 10_000): number {
  const it = CronExpressionParser.parse(expr, { currentDate: before, tz: 'UTC' });
  let n = 0;
  while (n < cap) {
    const t = it.prev().toDate();
    if (t <= after) break;
    n++;
  }
  return n;
}

/** The shortest gap between the next 60 firings of a schedule, in seconds (for the cron quota). */
export function shortestGapS(expr: string): number {
  const it = CronExpressionParser.parse(expr, { tz: 'UTC' });
  let prev = it.next().toDate().getTime();
  let min = Infinity;
  for (let i = 0; i < 60; i++) {
    const t = it.next().toDate().getTime();
    min = Math.min(min, (t - prev) / 1000);
    prev = t;
  }
  return min;
}
