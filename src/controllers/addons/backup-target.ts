import type { ControllerDeps } from '../deps.js';
import type { AddonRow } from '../../store/addons.js';
import { LABEL } from '../../runtime/labels.js';
import { ADDON_LABEL, addonBackupExt, jobSpec } from '../../domain/addons.js';
import type { BackupTarget } from '../backups/target.js';

/**
 * An add-on as the backup runner sees it: its helper is a container of the add-on's own image (so
 * the client tools match the server) on the project network; a Redis restore stops the server
 * first, since Redis would write its own snapshot over the restored one as it stops.
 */
export function addonTarget(d: ControllerDeps, a: AddonRow): BackupTarget {
  return {
    owner: { kind: 'addon', id: a.id },
    project_id: a.project_id,
    name: `add-on ${a.name}`,
    ready: a.status === 'running',
    backup_schedule: a.backup_schedule,
    backup_keep: a.backup_keep,
    created_at: a.created_at,
    verifies: true,
    ext: addonBackupExt(a.type),
    tool: (restore) => (a.type === 'postgres' ? (restore ? 'pg_restore' : 'pg_dump') : restore ? 'the snapshot copy' : 'redis-cli --rdb'),
    helper: (jobId, inside, restore) => d.runs.createContainer(jobSpec(d.secrets, d.instanceId, a, jobId, inside, restore)),
    beforeRestore: a.type !== 'redis' ? undefined : async () => {
      const [c] = await d.runs.listContainers({ [LABEL.instance]: d.instanceId, [ADDON_LABEL]: a.id });
      if (!c) return null;
      await d.runs.stopContainer(c.id, 30);
      return () => d.runs.startContainer(c.id);
    },
  };
}
