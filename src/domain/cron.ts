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
