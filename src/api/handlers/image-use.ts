import type { ApiContext, AuthUser } from '../context.js';
import { HttpError } from '../errors.js';
import { imageUse, recordUse } from '../../domain/image-owners.js';

/**
 * The check every route that names an image runs before it writes a release or an app's image:
 * the image must be the project's (src/domain/image-owners.ts); otherwise a 400 naming `field`.
 * An admin's deploy of an image on the engine grants it to the project.
 */
export async function checkImageUse(ctx: ApiContext, user: AuthUser, app: { id: string; project_id: string }, ref: string, field: string): Promise<void> {
  const q = { projectId: app.project_id, appId: app.id, ref, isAdmin: user.is_admin };
  const use = await imageUse(ctx.db, ctx.runtime, ctx.config.sharedImages, q);
  if (use.kind === 'refused') throw new HttpError(400, 'image_refused', use.reason, { field });
  await recordUse(ctx.db, use, q);
}
