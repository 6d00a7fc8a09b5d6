import type { Db } from './db.js';
import { newId } from '../lib/ids.js';

/**
 * This installation's id, made once and kept in its database. Engine objects carry it as a label,
 * so several Berth instances can share one Docker Engine without touching each other's containers.
 */
export async function instanceId(db: Db): Promise<string> {
  const row = await db.selectFrom('meta').select('value').where('key', '=', 'instance_id').executeTakeFirst();
  if (row) return row.value;
  const id = newId('bi').slice(3, 15);
  await db.insertInto('meta').values({ key: 'instance_id', value: id }).onConflict((oc) => oc.column('key').doNothing()).execute();
  return (await db.selectFrom('meta').select('value').where('key', '=', 'instance_id').executeTakeFirstOrThrow()).value;
}
