import type { SecretBox } from '../lib/crypto.js';
import type { StoredEnv } from '../store/app-columns.js';

/** Config vars as stored (decoded by the store): secret values are sealed, so a database dump does not reveal them. */
export type { StoredEnv };

export const MASK = '********';

/** Applies sets (null unsets) and secret markings to the stored vars. */
export function mergeEnv(
  box: SecretBox,
  stored: StoredEnv,
  set: Record<string, string | null> = {},
  secretKeys: string[] = [],
): StoredEnv {
  const out: StoredEnv = { ...stored };
  const secret = new Set(secretKeys);
  for (const [k, v] of Object.entries(set)) {
    if (v === null) {
      delete out[k];
      continue;
    }
    const makeSecret = secret.has(k) || out[k]?.s === 1;
    out[k] = makeSecret ? { v: box.seal(v), s: 1 } : { v };
  }
  // Marking an existing plain var secret seals its current value.
  for (const k of secret) {
    const cur = out[k];
    if (cur && cur.s !== 1) out[k] = { v: box.seal(cur.v), s: 1 };
  }
  return out;
}

/** What API responses show: secret values masked. */
export function maskedEnv(stored: StoredEnv): { env: Record<string, string>; secret_env: string[] } {
  const env: Record<string, string> = {};
  const secret_env: string[] = [];
  for (const [k, { v, s }] of Object.entries(stored)) {
    env[k] = s ? MASK : v;
    if (s) secret_env.push(k);
  }
  return { env, secret_env };
}

/** What a container gets: every value in clear. */
export function plainEnv(box: SecretBox, stored: StoredEnv): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, { v, s }] of Object.entries(stored)) env[k] = s ? box.open(v) : v;
  return env;
}
