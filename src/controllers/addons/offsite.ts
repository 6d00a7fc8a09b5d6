import type { ControllerDeps } from '../deps.js';
import { backupDestination } from '../../store/backup-destination.js';
import { openDestination, pgbackrestEnv, type Destination } from '../../domain/backup-destination.js';

/** The off-site destination, opened, or null when none is set. */
export async function offsite(d: ControllerDeps): Promise<Destination | null> {
  const row = await backupDestination(d.db);
  return row ? openDestination(d.secrets, row) : null;
}

/** pgBackRest's repo2 settings for the repository of add-on `repoId` (none without a destination). */
export async function offsiteEnv(d: ControllerDeps, repoId: string): Promise<Record<string, string>> {
  const dest = await offsite(d);
  return dest ? pgbackrestEnv(dest, repoId) : {};
}
