import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import type { BerthClient } from '../../client/index.js';
import type { RouteOutput } from '../../api/contract/index.js';
import { client, globals } from '../session.js';
import { emit, table } from '../output.js';
import { confirmTyped } from '../prompt.js';

/** The CLI parts shared by the backups of add-ons and of volumes. */

type Job = RouteOutput<'getAddonJob'> | RouteOutput<'getVolumeJob'>;

/** The API calls of one kind of owner's backups. */
export interface BackupCalls {
  /** Sets the schedule and retention; returns the owner's name and its new schedule line. */
  update(c: BerthClient, owner: string, project: string | undefined, body: ReturnType<typeof scheduleBody> & { verify_query?: string | null }): Promise<{ name: string; backup_schedule: string | null; backup_keep: number }>;
  create(c: BerthClient, owner: string): Promise<Job>;
  list(c: BerthClient, owner: string): Promise<{ items: Job[] }>;
  restore(c: BerthClient, owner: string, backup: string): Promise<Job>;
  job(c: BerthClient, owner: string, job: string): Promise<Job>;
}

/** What differs between the add-on and the volume commands. */
export interface BackupCli {
  /** The argument's name and what it is called in prose. */
  arg: string;
  noun: string;
  base: string;
  calls: BackupCalls;
  /** Says what a backup is, what its file is, and what a restore does first. */
  backupIs: string;
  fileIs: string;
  restoreNote: string;
  /** A point-in-time restore (`restore OWNER --to TIME`), for the kinds that have one. */
  /** Its backups are restore-checked with a query the owner may set (`update --verify-query`). */
  verifyQuery?: boolean;
  restoreTo?: (cmd: Command, owner: string, o: { to: string; name?: string; project?: string; wait: boolean; inPlace?: boolean; confirm?: string }) => Promise<void>;
}

/** Polls a backup or restore until it has finished. */
async function waitJob(c: BerthClient, calls: BackupCalls, owner: string, id: string): Promise<Job> {
  for (;;) {
    const j = await calls.job(c, owner, id);
    if (j.status === 'succeeded' || j.status === 'failed') return j;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** `update` (schedule, retention), `backup`, `backups` (with `backups download`) and `restore` under the add-on or volume command. */
export function registerBackupCommands(parent: Command, k: BackupCli) {
  const update = parent
    .command(`update <${k.arg}>`)
    .description('change the backup schedule or retention')
    .option('--project <project>', `project of the ${k.noun}`)
    .option('--backup-schedule <cron>', 'cron in UTC; "" turns automatic backups off')
    .option('--backup-keep <n>', 'backups kept', (v) => Number.parseInt(v, 10));
  if (k.verifyQuery) update.option('--verify-query <sql>', 'postgres: the read-only query each backup\'s restore check runs; "" for the default (count the user tables)');
  update.action(async (owner: string, o: { project?: string; backupSchedule?: string; backupKeep?: number; verifyQuery?: string }, cmd: Command) => {
    const body = { ...scheduleBody(o), ...(o.verifyQuery !== undefined ? { verify_query: o.verifyQuery === '' ? null : o.verifyQuery } : {}) };
    const x = await k.calls.update(client(cmd), owner, o.project, body);
    emit(globals(cmd), x, () => `Backups of ${x.name}: ${scheduleLine(x)}`);
  });
  parent
    .command(`backup <${k.arg}>`)
    .description(`take a backup (${k.backupIs}) now and wait for it`)
    .option('--no-wait', 'return once it is queued')
    .action(async (owner: string, o: { wait: boolean }, cmd: Command) => {
      const c = client(cmd);
      const job = await k.calls.create(c, owner);
      emitJob(cmd, o.wait ? await waitJob(c, k.calls, owner, job.id) : job);
    });
  const backups = parent
    .command(`backups <${k.arg}>`)
    .description(`list a${k.noun.startsWith('a') ? 'n' : ''} ${k.noun}'s backups (and: backups download ${k.arg.toUpperCase()} BACKUP)`)
    .action(async (owner: string, _o, cmd: Command) => emitBackups(cmd, (await k.calls.list(client(cmd), owner)).items));
  backups
    .command(`download <${k.arg}> <backup>`)
    .description(`download a backup to a file (${k.fileIs})`)
    .option('-o, --output <file>', `file to write (default: <${k.arg}>-<backup>.<ext>)`)
    .action(async (owner: string, backup: string, o: { output?: string }, cmd: Command) => downloadBackup(cmd, k.base, owner, backup, o.output));
  const restore = parent
    .command(`restore <${k.arg}> ${k.restoreTo ? '[backup]' : '<backup>'}`)
    .description(
      `restore a backup into the ${k.noun} (${k.restoreNote}; asks you to type the ${k.noun} name)` +
        (k.restoreTo ? `, or with --to TIME restore it to that time into a new ${k.noun} (a fork)` : ''),
    )
    .option(`--confirm <${k.arg}>`, `the ${k.noun} name, instead of typing it`);
  if (k.restoreTo) {
    restore
      .option('--to <time>', 'point-in-time restore into a new add-on: "2026-12-05 14:04:30" (UTC unless it ends in Z or +HH:MM)')
      .option('--name <name>', 'with --to: the new add-on\'s name (default: <addon>-<time>)')
      .option('--in-place', 'with --to: restore the add-on itself to that time (asks you to type its name; its data since then is set aside)')
      .option('--project <project>', `project of the ${k.noun}`)
      .option('--no-wait', 'with --to: return once the fork is asked for, without waiting for it to run');
  }
  restore.action(async (owner: string, backup: string | undefined, o: { confirm?: string; to?: string; name?: string; project?: string; wait: boolean; inPlace?: boolean }, cmd: Command) => {
      if (o.to !== undefined && k.restoreTo) {
        if (backup) throw new Error('give either a backup or --to, not both');
        return k.restoreTo(cmd, owner, { to: o.to, name: o.name, project: o.project, wait: o.wait, inPlace: o.inPlace, confirm: o.confirm });
      }
      if (!backup) throw new Error(`name the backup to restore (berth ${parent.name()} backups ${owner.toUpperCase()}), or a time with --to`);
      await confirmTyped(owner, o.confirm, `This replaces the data of ${k.noun} ${owner} with backup ${backup}. Type the ${k.noun} name to go on: `);
      const c = client(cmd);
      const job = await k.calls.restore(c, owner, backup);
      emitJob(cmd, await waitJob(c, k.calls, owner, job.id));
    });
}

/** Prints a finished (or queued) job; a failed one makes the command fail. */
function emitJob(cmd: Command, j: Job) {
  emit(globals(cmd), j, () => `${j.kind} ${j.id}: ${j.status}${j.size_bytes !== null ? `, ${j.size_bytes} bytes` : ''}${j.reason ? ` (${j.reason})` : ''}`);
  if (j.status === 'failed') process.exitCode = 1;
}

function emitBackups(cmd: Command, items: Job[]) {
  emit(globals(cmd), items, () =>
    table(items.map((j) => ({ ...j, size_bytes: j.size_bytes ?? '-', verified: verifiedCell(j) })), [
      ['id', 'Id'],
      ['trigger', 'Trigger'],
      ['status', 'Status'],
      ['size_bytes', 'Bytes'],
      ['created_at', 'Taken'],
      ...(items.some((j) => j.verified) ? [['verified', 'Verified'] as [string, string]] : []),
      ['reason', 'Reason'],
    ]),
  );
}

/** A backup's restore check in a cell: "ok (answer)", "failed: why", "pending", or "-". */
export function verifiedCell(j: Job): string {
  const v = j.verified;
  if (!v) return '-';
  const answer = (v.answer ?? '').replace(/\n/g, ', ');
  return v.status === 'ok' ? `ok (${answer.length > 40 ? `${answer.slice(0, 39)}…` : answer})` : v.status === 'failed' ? `failed: ${(v.error ?? '').split('\n')[0]!.slice(0, 80)}` : 'pending';
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
const scheduleBody = (o: { backupSchedule?: string; backupKeep?: number }) => ({
  ...(o.backupSchedule !== undefined ? { backup_schedule: o.backupSchedule === '' ? null : o.backupSchedule } : {}),
  ...(o.backupKeep !== undefined ? { backup_keep: o.backupKeep } : {}),
});

export const scheduleLine = (x: { backup_schedule: string | null; backup_keep: number }) => (x.backup_schedule ? `${x.backup_schedule} (keep ${x.backup_keep})` : '-');
