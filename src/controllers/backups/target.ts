import type { BackupOwner } from '../../store/backups.js';

/**
 * What the shared backup runner needs of an add-on or a volume: the runner keeps the rows, the
 * files, the schedule and the pruning; the target makes the helper container that does the work.
 */
export interface BackupTarget {
  owner: BackupOwner;
  /** Its project: the events of its jobs are the project's. */
  project_id: string;
  /** Its name, for messages. */
  name: string;
  /** False while it cannot be backed up or restored (an add-on not answering yet). */
  ready: boolean;
  backup_schedule: string | null;
  backup_keep: number;
  created_at: string;
  /** True when each new backup is then restored into a throwaway container and checked (add-ons: controllers/addons/verify.ts). */
  verifies?: boolean;
  /** The backup file's extension (dump, rdb, tar). */
  ext: string;
  /** The helper's tool, for messages ("pg_dump", "tar"). */
  tool(restore: boolean): string;
  /** Makes (does not start) the helper of a job; it reads or writes its file at `inside`. */
  helper(jobId: string, inside: string, restore: boolean): Promise<string>;
  /** Before a restore's helper starts: stops what must not run during it, or throws why it may not go on; returns what to do after. */
  beforeRestore?(): Promise<(() => Promise<void>) | null>;
}
