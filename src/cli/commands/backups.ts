import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import type { BerthClient } from '../../client/index.js';
import type { RouteOutput } from '../../api/contract.js';
import { client, globals } from '../session.js';
import { emit, table } from '../output.js';

/** The CLI parts shared by the backups of add-ons and of volumes. */

type Job = RouteOutput<'getAddonJob'> | RouteOutput<'getVolumeJob'>;
type JobRoute = 'getAddonJob' | 'getVolumeJob';

/** Polls a backup or restore until it has finished. */
export async function waitJob(c: BerthClient, route: JobRoute, owner: string, id: string): Promise<Job> {
  for (;;) {
    const j = await c.call(route, { params: { id: owner, job: id } });
    if (j.status === 'succeeded' || j.status === 'failed') return j;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Prints a finished (or queued) job; a failed one makes the command fail. */
export function emitJob(cmd: Command, j: Job) {
  emit(globals(cmd), j, () => `${j.kind} ${j.id}: ${j.status}${j.size_bytes !== null ? `, ${j.size_bytes} bytes` : ''}${j.reason ? ` (${j.reason})` : ''}`);
  if (j.status === 'failed') process.exitCode = 1;
}

export function emitBackups(cmd: Command, items: Job[]) {
  emit(globals(cmd), items, () =>
    table(items.map((j) => ({ ...j, size_bytes: j.size_bytes ?? '-' })), [['id', 'Id'], ['trigger', 'Trigger'], ['status', 'Status'], ['size_bytes', 'Bytes'], ['created_at', 'Taken'], ['reason', 'Reason']]),
  );
}

/** Downloads a backup's file from `{base}/{owner}/backups/{backup}/download`. */
export async function downloadBackup(cmd: Command, base: string, owner: string, backup: string, output: string | undefined) {
  const c = client(cmd);
  const res = await fetch(c.url(`${base}/${encodeURIComponent(owner)}/backups/${encodeURIComponent(backup)}/download`), {
    headers: c.opts.token ? { authorization: `Bearer ${c.opts.token}` } : {},
  });
  if (!res.ok || !res.body) throw new Error(`download failed: HTTP ${res.status} ${await res.text()}`);
  const name = output ?? /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? `${owner}-${backup}`;
  await pipeline(Readable.fromWeb(res.body as never), createWriteStream(name, { mode: 0o600 }));
  emit(globals(cmd), { file: name }, () => `Wrote ${name}.`);
}

/** The --backup-schedule / --backup-keep options of an update, as a body ("" turns the schedule off). */
export const scheduleBody = (o: { backupSchedule?: string; backupKeep?: number }) => ({
  ...(o.backupSchedule !== undefined ? { backup_schedule: o.backupSchedule === '' ? null : o.backupSchedule } : {}),
  ...(o.backupKeep !== undefined ? { backup_keep: o.backupKeep } : {}),
});

export const scheduleLine = (x: { backup_schedule: string | null; backup_keep: number }) => (x.backup_schedule ? `${x.backup_schedule} (keep ${x.backup_keep})` : '-');
