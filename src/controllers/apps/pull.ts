import type { AppRow } from '../../store/apps.js';
import type { ReleaseRow } from '../../store/releases.js';
import { registryFor } from '../../store/registries.js';
import { registryHostOf } from '../../domain/registries.js';
import { HealthError } from '../health.js';
import { EgressRefused, REFUSED, checkResolved } from '../../lib/egress.js';
import { event, type AppKit } from './kit.js';

const PULL_TIMEOUT_MS = 10 * 60_000;

/**
 * Makes sure the release's image is on the engine before any replica of it is made: an image
 * from a registry is pulled, with the deploying user's account for that registry host if they
 * have one. A pull that fails fails the release with the registry's own reason (HealthError: the
 * rollout treats it like a replica that never became healthy, and the live release stays).
 */
export async function ensureImage(k: AppKit, app: AppRow, target: ReleaseRow): Promise<void> {
  if (await k.runtime.inspectImage(target.image)) return;
  const host = registryHostOf(target.image);
  const account = host && target.created_by ? await registryFor(k.db, target.created_by, host) : undefined;
  // An image a user named (not one Berth built): its registry host is checked on the address it
  // resolves to now, just before the engine connects (the check at deploy time saw only the name).
  if (host && !target.build_id) {
    try {
      await checkResolved(host.replace(/:\d+$/, ''), 'image_id', k.config.egressAllow);
    } catch (err) {
      throw new HealthError(`pulling ${target.image} failed: ${err instanceof EgressRefused ? `${host} is ${REFUSED}` : `${host} does not resolve`}`, []);
    }
  }
  await event(k, app, 'release.pulling', `pulling ${target.image}${account ? ` as ${account.username}` : ''}`, { release: target.version });
  try {
    await k.runtime.pullImage(target.image, {
      auth: account ? { username: account.username, password: k.secrets.open(account.password_sealed), serveraddress: account.host } : undefined,
      timeoutMs: PULL_TIMEOUT_MS,
      signal: k.signal,
    });
  } catch (err) {
    if (k.signal.aborted) throw err;
    const reason = err instanceof Error ? err.message : String(err);
    const hint = !account && host && /unauthorized|authentication required|no basic auth credentials|denied/i.test(reason) ? ` (add an account: berth registries add ${host} --username ...)` : '';
    throw new HealthError(`pulling ${target.image} failed: ${reason}${hint}`, []);
  }
}
