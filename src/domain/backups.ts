import { join } from 'node:path';
import type { BackupOwner, BackupOwnerKind } from '../store/backups.js';

/** Where the backups of an add-on or a volume live on the control plane's disk (one directory per owner). */
export const backupDir = (dataDir: string, kind: BackupOwnerKind) => join(dataDir, kind === 'addon' ? 'addons' : 'volumes');

/** Where one backup's file lives. */
export const backupFile = (dataDir: string, owner: BackupOwner, backupId: string, ext: string) => join(backupDir(dataDir, owner.kind), owner.id, `${backupId}.${ext}`);
