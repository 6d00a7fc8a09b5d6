import type { Config } from '../config.js';
import { FailureWindow } from '../lib/failure-window.js';
import { HttpError } from './errors.js';

interface Limits {
  user: FailureWindow;
  address: FailureWindow;
}
const byConfig = new WeakMap<Config, Limits>();

function limitsOf(config: Config): Limits {
  let l = byConfig.get(config);
  if (!l) {
    const { maxFailuresPerUser, maxFailuresPerAddress, windowMs } = config.access.login;
    l = { user: new FailureWindow(maxFailuresPerUser, windowMs), address: new FailureWindow(maxFailuresPerAddress, windowMs) };
    byConfig.set(config, l);
  }
  return l;
}

const userKey = (username: string) => username.trim().toLowerCase();

/**
 * Online password guessing, slowed: too many failed logins of one username, or from one client
 * address, within the window and every login of that name or from that address is refused with a
 * 429 and Retry-After, the right password included (a guess that happens to be right tells nothing).
 * API tokens and open sessions are untouched, so a user whose name is under attack keeps working.
 */
export function checkLogin(config: Config, username: string, address: string): void {
  const l = limitsOf(config);
  const waitMs = Math.max(l.user.blockedFor(userKey(username)), l.address.blockedFor(address));
  if (waitMs <= 0) return;
  const retryAfterS = Math.max(1, Math.ceil(waitMs / 1000));
  throw new HttpError(
    429,
    'too_many_attempts',
    `too many failed logins for this username or from this address: try again in ${retryAfterS} s`,
    { retry_after_s: retryAfterS },
    { 'retry-after': String(retryAfterS) },
  );
}

export function loginFailed(config: Config, username: string, address: string): void {
  const l = limitsOf(config);
  l.user.fail(userKey(username));
  l.address.fail(address);
}

/** A success clears the username's failures (not the address's: one good account must not reset a guesser's count). */
export function loginSucceeded(config: Config, username: string): void {
  limitsOf(config).user.reset(userKey(username));
}
