import type { HelperSpec } from '../runtime/types.js';
import { LABEL } from '../runtime/labels.js';
import { engineMounts } from './volumes.js';

/** Label of a volume's backup and restore helpers (the job id). */
export const VOLUME_JOB_LABEL = 'berth.volume-job';

/** Where a helper sees the volume. */
const AT = '/volume';

/**
 * A tar snapshot of the whole volume with numeric owners and modes (so the app's user owns its
 * files again after a restore). Exit 1 is GNU tar's "a file changed as we read it": the archive
 * is whole, the file is caught as it was (a backup of a volume in use is file by file).
 * Constant scripts: the file path comes in as $0, no user data in them.
 */
const BACKUP = `tar --numeric-owner -cpf "$0" -C ${AT} . ; s=$?; [ "$s" -le 1 ]`;
/** Empties the volume, then unpacks the snapshot as it was: owners, modes, times. */
const RESTORE = `set -e; find ${AT} -mindepth 1 -delete; tar --numeric-owner -xpf "$0" -C ${AT}`;

interface VolumeRef {
  id: string;
  project_id: string;
}

/** The volume mounted at /volume, with the labels its engine volume gets if it has to be made. */
function mount(instanceId: string, v: VolumeRef, readOnly: boolean) {
  const [m] = engineMounts(instanceId, v.project_id, [{ volume: v.id, volume_id: v.id, path: AT }]);
  return { ...m!, readOnly };
}

/**
 * A backup or restore helper: root only for file ownership, no network. A backup mounts the volume
 * read-only and may read every file (DAC_READ_SEARCH); a restore may write, chown and set modes.
 */
export function volumeJobSpec(instanceId: string, v: VolumeRef, jobId: string, file: string, restore: boolean): HelperSpec {
  return {
    name: `berth-${jobId.replace('_', '-')}`,
    cmd: ['sh', '-c', restore ? RESTORE : BACKUP, file],
    labels: { [LABEL.instance]: instanceId, [VOLUME_JOB_LABEL]: jobId },
    mounts: [mount(instanceId, v, !restore)],
    capabilities: restore ? ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID'] : ['DAC_READ_SEARCH'],
  };
}

/** Measures the bytes a volume uses on disk (du), read-only. */
export function volumeUsageSpec(instanceId: string, v: VolumeRef): HelperSpec {
  return {
    cmd: ['du', '-s', '-B1', AT],
    labels: { [LABEL.instance]: instanceId, [VOLUME_JOB_LABEL]: 'usage' },
    mounts: [mount(instanceId, v, true)],
    capabilities: ['DAC_READ_SEARCH'],
  };
}
