import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { extract, pack } from 'tar-stream';
import type { ControllerDeps } from '../deps.js';
import type { AddonJobRow, AddonRow } from '../../store/addons.js';
import * as store from '../../store/addons.js';
import { now } from '../../store/db.js';
import { ADDON_LABEL, backupFile, jobSpec } from '../../domain/addons.js';
import { LABEL } from '../../runtime/labels.js';
import { lastLogLines } from '../health.js';

const JOB_TIMEOUT_MS = 60 * 60_000;
const IN_CONTAINER = '/tmp/berth-backup';

/**
 * Runs one backup or restore of an add-on in a helper container (the add-on's own image, so the
 * client tools match the server). A backup streams its file out of the helper into the data
 * directory (written to a .part file, renamed when whole); a restore copies the file in first.
 * The row says `running` before the helper is made: a crash is found on start.
 */
export async function runJob(d: ControllerDeps, a: AddonRow, job: AddonJobRow, stopping: AbortSignal): Promise<void> {
  await store.updateJob(d.db, job.id, { status: 'running' });
  const restore = job.kind === 'restore';
  const source = restore ? await store.jobById(d.db, job.backup_id ?? '') : job;
  const file = backupFile(d.config.dataDir, source?.addon_id ?? a.id, source?.id ?? job.id, a.type);
  const inside = `${IN_CONTAINER}.${a.type === 'postgres' ? 'dump' : 'rdb'}`;
  const signal = AbortSignal.any([stopping, AbortSignal.timeout(JOB_TIMEOUT_MS)]);
  let id: string | null = null;
  let server: string | null = null;
  try {
    if (restore && !source) throw new Error('the backup is gone');
    // Redis would write its own snapshot over the restored one as it stops: it is stopped first.
    server = a.type === 'redis' && restore ? await serverOf(d, a) : null;
    if (server) await d.runtime.stopContainer(server, 30);
    id = await d.runtime.createContainer(jobSpec(d.secrets, d.instanceId, a, job.id, inside, restore));
    if (restore) {
      const p = pack();
      const size = (await stat(file)).size;
      const entry = p.entry({ name: inside.split('/').pop()!, size, mode: 0o644 });
      const copying = d.runtime.copyTo(id, '/tmp', p as unknown as NodeJS.ReadableStream, signal);
      await pipeline(createReadStream(file), entry);
      p.finalize();
      await copying;
    }
    await d.runtime.startContainer(id);
    const code = await d.runtime.waitContainer(id, signal);
    if (code !== 0) {
      const tail = (await lastLogLines(d.runtime, id, 10)).join('\n');
      throw new Error(`${jobSpecName(a, restore)} exited with code ${code}${tail ? `: ${tail}` : ''}`);
    }
    let size: number | null = null;
    if (!restore) {
      await mkdir(dirname(file), { recursive: true, mode: 0o700 });
      await saveSingleFile(await d.runtime.copyFrom(id, inside, signal), `${file}.part`);
      await rename(`${file}.part`, file);
      size = (await stat(file)).size;
    }
    await store.updateJob(d.db, job.id, { status: 'succeeded', size_bytes: size, finished_at: now() });
    if (!restore) await prune(d, a);
  } catch (err) {
    if (stopping.aborted) return; // the next start marks it failed
    await rm(`${file}.part`, { force: true });
    await store.updateJob(d.db, job.id, { status: 'failed', reason: (err as Error).message.slice(0, 4000), finished_at: now() });
  } finally {
    if (id && !stopping.aborted) await d.runtime.removeContainer(id).catch(() => {});
    if (server && !stopping.aborted) await d.runtime.startContainer(server).catch((err) => d.log.warn({ err }, 'add-on did not start again after a restore'));
  }
}

async function serverOf(d: ControllerDeps, a: AddonRow): Promise<string | null> {
  const [c] = await d.runtime.listContainers({ [LABEL.instance]: d.instanceId, [ADDON_LABEL]: a.id });
  return c?.id ?? null;
}

const jobSpecName = (a: AddonRow, restore: boolean) => (a.type === 'postgres' ? (restore ? 'pg_restore' : 'pg_dump') : restore ? 'the snapshot copy' : 'redis-cli --rdb');

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

/** Keeps the add-on's newest `backup_keep` successful backups; older ones (rows and files) go. */
export async function prune(d: ControllerDeps, a: AddonRow): Promise<string[]> {
  const done = (await store.backupsOf(d.db, a.id)).filter((b) => b.status === 'succeeded');
  const old = done.slice(a.backup_keep);
  for (const b of old) {
    await rm(backupFile(d.config.dataDir, a.id, b.id, a.type), { force: true });
    await store.deleteJob(d.db, b.id);
  }
  return old.map((b) => b.id);
}
