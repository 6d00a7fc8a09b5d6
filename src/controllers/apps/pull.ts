import type { AppRow } from '../../store/apps.js';
import type { ReleaseRow } from '../../store/releases.js';
import { registryFor } from '../../store/registries.js';
import { userById } from '../../store/users.js';
import { recordImageOwner } from '../../store/image-owners.js';
import { registryHostOf } from '../../domain/registries.js';
import { imageUse } from '../../domain/image-owners.js';
import { ImageUserError } from '../../runtime/image-user.js';
import { HealthError } from '../health.js';
import { EgressRefused, REFUSED, checkResolved } from '../../lib/egress.js';
import { event, type AppKit } from './kit.js';

const PULL_TIMEOUT_MS = 10 * 60_000;

/**
 * Makes sure the release's image is on the engine and the project's before any replica of it is
 * made, and says who it runs as. An image from a registry is pulled at every release, with the
 * account for that host of the user who made the release, even when the engine has it already:
 * a copy another project pulled with its own credentials is never handed to this one. Another
 * image must be the project's (src/domain/image-owners.ts), checked here again for releases made
 * without the API's check (an app's image set before it existed). A failure fails the release
 * with its reason (HealthError: the rollout treats it like a replica that never became healthy,
 * and the live release stays). Returns a note for the release's reason, or null.
 */
export async function ensureImage(k: AppKit, app: AppRow, target: ReleaseRow): Promise<string | null> {
  const host = registryHostOf(target.image);
  if (host) await pull(k, app, target, host);
  else await mustOwn(k, app, target);
  return userNote(k, target.image);
}

async function pull(k: AppKit, app: AppRow, target: ReleaseRow, host: string): Promise<void> {
  const account = target.created_by ? await registryFor(k.db, target.created_by, host) : undefined;
  // An image a user named (not one Berth built): its registry host is checked on the address it
  // resolves to now, just before the engine connects (the check at deploy time saw only the name).
  if (!target.build_id) {
    try {
      await checkResolved(host.replace(/:\d+$/, ''), 'image_id', k.config.egressAllow);
    } catch (err) {
      throw new HealthError(`pulling ${target.image} failed: ${err instanceof EgressRefused ? `${host} is ${REFUSED}` : `${host} does not resolve`}`, []);
    }
  }
  await event(k, app, 'release.pulling', `pulling ${target.image}${account ? ` as ${account.username}` : ''}`, { release: target.version });
  try {
    await k.images.pullImage(target.image, {
      auth: account ? { username: account.username, password: k.secrets.open(account.password_sealed), serveraddress: account.host } : undefined,
      timeoutMs: PULL_TIMEOUT_MS,
      signal: k.signal,
    });
  } catch (err) {
    if (k.signal.aborted) throw err;
    const reason = err instanceof Error ? err.message : String(err);
    const hint = !account && /unauthorized|authentication required|no basic auth credentials|denied/i.test(reason) ? ` (add an account: berth registries add ${host} --username ...)` : '';
    throw new HealthError(`pulling ${target.image} failed: ${reason}${hint}`, []);
  }
  const info = await k.images.inspectImage(target.image);
  if (!info) throw new HealthError(`pulling ${target.image} left no image on the engine`, []);
  await recordImageOwner(k.db, { project_id: app.project_id, image: target.image, image_id: info.id, app_id: app.id, source: 'pull' });
}

async function mustOwn(k: AppKit, app: AppRow, target: ReleaseRow): Promise<void> {
  // Releases the system made (a build's, a test's) carry no user; the API checked every user's.
  if (!target.created_by) return;
  const creator = await userById(k.db, target.created_by);
  const use = await imageUse(k.db, k.images, k.config.sharedImages, { projectId: app.project_id, ref: target.image, isAdmin: !!creator?.is_admin });
  if (use.kind === 'refused') throw new HealthError(use.reason, []);
}

/** Root is refused by uid: an image whose user is uid 0 under any name runs as nobody, and the release says so. */
async function userNote(k: AppKit, image: string): Promise<string | null> {
  try {
    const u = await k.images.imageUser(image);
    return u.root && u.declared.trim() !== '' ? `the image's USER ${JSON.stringify(u.declared)} is uid 0 (root): its replicas run as ${u.runAs} instead` : null;
  } catch (err) {
    if (err instanceof ImageUserError) throw new HealthError(`the image's user cannot be resolved: ${err.message}`, []);
    throw err;
  }
}
