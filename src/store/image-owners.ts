import type { Db } from './db.js';
import { now } from './db.js';
import type { ImageOwnersTable } from './schema.js';

export type ImageOwnerRow = ImageOwnersTable;

/** Records that the project may run this image (built, pulled or granted by an admin's deploy); the newest content id wins. */
export async function recordImageOwner(db: Db, row: Omit<ImageOwnerRow, 'created_at'>) {
  await db
    .insertInto('image_owners')
    .values({ ...row, created_at: now() })
    .onConflict((oc) => oc.columns(['project_id', 'image']).doUpdateSet({ image_id: row.image_id, app_id: row.app_id, source: row.source }))
    .execute();
}

/** True when the project built, pulled or was granted this image: by its engine content id, or (rows from before 0014) by the same name. */
export async function projectOwnsImage(db: Db, projectId: string, ref: string, imageId: string | null): Promise<boolean> {
  const row = await db
    .selectFrom('image_owners')
    .select('image')
    .where('project_id', '=', projectId)
    .where((eb) => {
      const byName = eb.and([eb('image', '=', ref), eb('image_id', 'is', null)]);
      return imageId ? eb.or([eb('image_id', '=', imageId), byName]) : byName;
    })
    .executeTakeFirst();
  return !!row;
}
