import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { extract, pack } from 'tar-stream';
import type { ControllerDeps } from '../deps.js';
import type { BackupJobRow } from '../../store/backups.js';
import * as store from '../../store/backups.js';
import { now } from '../../store/db.js';
import { backupFile } from '../../domain/backups.js';
import { lastLogLines } from '../health.js';
import type { BackupTarget } from './target.js';
import { tell } from '../tell.js';

const JOB_TIMEOUT_MS = 60 * 60_000;
const IN_CONTAINER = '/tmp/berth-backup';

/**
 * Runs one backup or restore in a helper container the target makes. A backup streams its file
 * out of the helper into the data directory (written to a .part file, renamed when whole); a
 * restore copies the file in first. The row says `running` before the helper is made: a crash is
 * found on start.
 */
export async function runJob(d: ControllerDeps, t: BackupTarget, job: BackupJobRow, stopping: AbortSignal): Promise<void> {
  // Screens follow a job through the events stream (addon.backup.running, volume.restore.failed...).
  const told = (status: string, detail = '') =>
    tell(d, { actor: { system: 'backups' }, project_id: t.project_id, kind: `${t.owner.kind}.${job.kind}.${status}`, message: `${job.kind} of ${t.name} ${status}${detail}`, data: { [t.owner.kind]: t.owner.id, job: job.id } });
  if (!(await store.claimJob(d.db, job.id, d.fence))) return;
  await told('running');
  const restore = job.kind === 'restore';
  const source = restore ? await store.jobById(d.db, job.backup_id ?? '') : job;
  const file = backupFile(d.config.dataDir, source ? store.ownerOf(source) : t.owner, source?.id ?? job.id, t.ext);
  const inside = `${IN_CONTAINER}.${t.ext}`;
  const signal = AbortSignal.any([stopping, AbortSignal.timeout(JOB_TIMEOUT_MS)]);
  let id: string | null = null;
  let after: (() => Promise<void>) | null = null;
  try {
    if (restore && !source) throw new Error('the backup is gone');
    if (restore) after = (await t.beforeRestore?.()) ?? null;
    id = await t.helper(job.id, inside, restore);
    if (restore) {
      const p = pack();
      const size = (await stat(file)).size;
      const entry = p.entry({ name: inside.split('/').pop()!, size, mode: 0o644 });
      const copying = d.runs.copyTo(id, dirname(inside), p as unknown as NodeJS.ReadableStream, signal);
      await pipeline(createReadStream(file), entry);
      p.finalize();
      await copying;
    }
    await d.runs.startContainer(id);
    const code = await d.runs.waitContainer(id, signal);
    if (code !== 0) {
      const tail = (await lastLogLines(d.runs, id, 10)).join('\n');
      throw new Error(`${t.tool(restore)} exited with code ${code}${tail ? `: ${tail}` : ''}`);
    }
    let size: number | null = null;
    if (!restore) {
      await mkdir(dirname(file), { recursive: true, mode: 0o700 });
      await saveSingleFile(await d.runs.copyFrom(id, inside, signal), `${file}.part`);
      await rename(`${file}.part`, file);
      size = (await stat(file)).size;
    }
    await store.updateJob(d.db, job.id, { status: 'succeeded', size_bytes: size, finished_at: now(), ...(!restore && t.verifies ? { verify_status: 'pending' as const } : {}) });
    await told('succeeded');
    if (!restore) await prune(d, t);
  } catch (err) {
    if (stopping.aborted) return; // the next start marks it failed
    await rm(`${file}.part`, { force: true });
    await store.updateJob(d.db, job.id, { status: 'failed', reason: (err as Error).message.slice(0, 4000), finished_at: now() });
    await told('failed', `: ${(err as Error).message.slice(0, 200)}`);
  } finally {
    if (id && !stopping.aborted) await d.runs.removeContainer(id).catch(() => {});
    if (after && !stopping.aborted) await after().catch((err) => d.log.warn({ err, owner: t.owner }, `${t.name} did not start again after a restore`));
  }
}

/** Writes the one file of a tar stream (what the engine's archive endpoint sends) to path. */
async function saveSingleFile(tar: NodeJS.ReadableStream, path: string): Promise<void> {
  const ex = extract();
  let found = false;
  ex.on('entry', (header, stream, next) => {
    if (found || header.type !== 'file') {
      stream.resume();
      stream.on('end', next);
      return;
    }
    found = true;
    const out = createWriteStream(path, { mode: 0o600 });
    stream.pipe(out);
    out.on('finish', next);
    out.on('error', (err) => ex.destroy(err));
  });
  await pipeline(tar, ex);
  if (!found) throw new Error('the backup file was not in the helper container');
}

/** Keeps the target's newest `backup_keep` successful backups; older ones (rows and files) go. */
export async function prune(d: ControllerDeps, t: BackupTarget): Promise<string[]> {
  const done = (await store.backupsOf(d.db, t.owner)).filter((b) => b.status === 'succeeded');
  const old = done.slice(t.backup_keep);
  for (const b of old) {
    await rm(backupFile(d.config.dataDir, t.owner, b.id, t.ext), { force: true });
    await store.deleteJob(d.db, b.id);
  }
  return old.map((b) => b.id);
}
