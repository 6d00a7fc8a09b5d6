import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import type { BerthClient } from '../../client/index.js';
import type { RouteOutput } from '../../api/contract.js';
import { client, globals } from '../session.js';
import { details, emit, table } from '../output.js';
import { confirmTyped } from '../prompt.js';
import { registerAddonSessions } from './addon-session.js';

type Addon = RouteOutput<'getAddon'>;
type Job = RouteOutput<'getAddonJob'>;

const addonRow = (a: Addon) => ({
  ...a,
  project: a.project.name,
  address: `${a.host}:${a.port}`,
  attached: a.attachments.map((t) => `${t.app} (${t.var})`).join(', ') || '-',
  schedule: a.backup_schedule ? `${a.backup_schedule} (keep ${a.backup_keep})` : '-',
});

/** Polls a backup or restore until it has finished. */
async function waitJob(c: BerthClient, addon: string, id: string): Promise<Job> {
  for (;;) {
    const j = await c.call('getAddonJob', { params: { id: addon, job: id } });
    if (j.status === 'succeeded' || j.status === 'failed') return j;
    await new Promise((r) => setTimeout(r, 500));
  }
}

const jobLine = (j: Job) => `${j.kind} ${j.id}: ${j.status}${j.size_bytes !== null ? `, ${j.size_bytes} bytes` : ''}${j.reason ? ` (${j.reason})` : ''}`;

export function registerAddons(program: Command) {
  const addons = program.command('addons').description('managed PostgreSQL and Redis add-ons, their attachments and backups');
  addons
    .command('create <type>')
    .description('create a postgres or redis add-on in a project')
    .option('--name <name>', 'its name and host name on the project network (default: the type)')
    .option('--project <project>', 'project (default: your default project)')
    .option('--backup-schedule <cron>', 'automatic backups, cron in UTC ("0 3 * * *")')
    .option('--backup-keep <n>', 'backups kept (default 7)', (v) => Number.parseInt(v, 10))
    .action(async (type: string, o: { name?: string; project?: string; backupSchedule?: string; backupKeep?: number }, cmd: Command) => {
      const a = await client(cmd).call('createAddon', {
        body: { type: type as 'postgres', name: o.name, project: o.project, backup_schedule: o.backupSchedule, backup_keep: o.backupKeep },
      });
      emit(globals(cmd), a, () => `Created ${a.type} add-on ${a.name} in ${a.project.name}; it starts in the background (berth addons info ${a.name}).`);
    });
  addons
    .command('ls')
    .description('list add-ons')
    .option('--project <project>', 'only this project')
    .action(async (o: { project?: string }, cmd: Command) => {
      const res = await client(cmd).call('listAddons', { query: { project: o.project } });
      emit(globals(cmd), res.items, () =>
        table(res.items.map(addonRow), [['name', 'Name'], ['type', 'Type'], ['project', 'Project'], ['status', 'Status'], ['attached', 'Attached to'], ['schedule', 'Backups']]),
      );
    });
  addons
    .command('info <addon>')
    .description('show an add-on')
    .option('--project <project>', 'project of the add-on')
    .action(async (addon: string, o: { project?: string }, cmd: Command) => {
      const a = await client(cmd).call('getAddon', { params: { id: addon }, query: { project: o.project } });
      emit(globals(cmd), a, () =>
        details(addonRow(a), [['id', 'Id'], ['name', 'Name'], ['type', 'Type'], ['project', 'Project'], ['status', 'Status'], ['message', 'Message'], ['address', 'Address'], ['image', 'Image'], ['attached', 'Attached to'], ['schedule', 'Backups'], ['created_at', 'Created']]),
      );
    });
  addons
    .command('update <addon>')
    .description('change the backup schedule or retention')
    .option('--project <project>', 'project of the add-on')
    .option('--backup-schedule <cron>', 'cron in UTC; "" turns automatic backups off')
    .option('--backup-keep <n>', 'backups kept', (v) => Number.parseInt(v, 10))
    .action(async (addon: string, o: { project?: string; backupSchedule?: string; backupKeep?: number }, cmd: Command) => {
      const body = {
        ...(o.backupSchedule !== undefined ? { backup_schedule: o.backupSchedule === '' ? null : o.backupSchedule } : {}),
        ...(o.backupKeep !== undefined ? { backup_keep: o.backupKeep } : {}),
      };
      const a = await client(cmd).call('updateAddon', { params: { id: addon }, query: { project: o.project }, body });
      emit(globals(cmd), a, () => `Backups of ${a.name}: ${addonRow(a).schedule}`);
    });
  addons
    .command('rm <addon>')
    .description('delete an add-on with its data and backups (asks you to type its name)')
    .option('--project <project>', 'project of the add-on')
    .option('--confirm <addon>', 'the add-on name, instead of typing it')
    .action(async (addon: string, o: { project?: string; confirm?: string }, cmd: Command) => {
      await confirmTyped(addon, o.confirm, `This deletes add-on ${addon}, its data and its backups. Type its name to go on: `);
      await client(cmd).call('deleteAddon', { params: { id: addon }, query: { project: o.project } });
      emit(globals(cmd), { ok: true }, () => `Deleted add-on ${addon}.`);
    });
  addons
    .command('attach <addon>')
    .description('attach to an app of the same project: sets <AS>_URL (DATABASE_URL, REDIS_URL) as a secret config var')
    .requiredOption('--app <app>', 'the app')
    .option('--as <prefix>', 'config var prefix (default DATABASE or REDIS)')
    .option('--project <project>', 'project of the add-on')
    .action(async (addon: string, o: { app: string; as?: string; project?: string }, cmd: Command) => {
      const res = await client(cmd).call('attachAddon', { params: { id: addon }, query: { project: o.project }, body: { app: o.app, as: o.as } });
      const v = res.addon.attachments.find((t) => t.app === o.app)?.var ?? '';
      emit(globals(cmd), res, () => `Attached ${addon} to ${o.app} as ${v}${res.release ? `; release v${res.release.version} rolls it out` : ''}.`);
    });
  addons
    .command('detach <addon>')
    .description('detach from an app (removes its config var)')
    .requiredOption('--app <app>', 'the app')
    .option('--project <project>', 'project of the add-on')
    .action(async (addon: string, o: { app: string; project?: string }, cmd: Command) => {
      const res = await client(cmd).call('detachAddon', { params: { id: addon }, query: { project: o.project }, body: { app: o.app } });
      emit(globals(cmd), res, () => `Detached ${addon} from ${o.app}${res.release ? `; release v${res.release.version} rolls it out` : ''}.`);
    });
  addons
    .command('backup <addon>')
    .description('take a backup now and wait for it')
    .option('--no-wait', 'return once it is queued')
    .action(async (addon: string, o: { wait: boolean }, cmd: Command) => {
      const c = client(cmd);
      const job = await c.call('createBackup', { params: { id: addon } });
      const done = o.wait ? await waitJob(c, addon, job.id) : job;
      emit(globals(cmd), done, () => jobLine(done));
      if (done.status === 'failed') process.exitCode = 1;
    });
  addons
    .command('backups <addon>')
    .description("list an add-on's backups")
    .action(async (addon: string, _o, cmd: Command) => {
      const res = await client(cmd).call('listBackups', { params: { id: addon } });
      emit(globals(cmd), res.items, () =>
        table(res.items.map((j) => ({ ...j, size_bytes: j.size_bytes ?? '-' })), [['id', 'Id'], ['trigger', 'Trigger'], ['status', 'Status'], ['size_bytes', 'Bytes'], ['created_at', 'Taken'], ['reason', 'Reason']]),
      );
    });
  addons
    .command('download <addon> <backup>')
    .description('download a backup to a file (pg_dump custom format, or Redis RDB)')
    .option('-o, --output <file>', 'file to write (default: <addon>-<backup>.dump|.rdb)')
    .action(async (addon: string, backup: string, o: { output?: string }, cmd: Command) => {
      const c = client(cmd);
      const res = await fetch(c.url(`/api/v1/addons/${encodeURIComponent(addon)}/backups/${encodeURIComponent(backup)}/download`), {
        headers: c.opts.token ? { authorization: `Bearer ${c.opts.token}` } : {},
      });
      if (!res.ok || !res.body) throw new Error(`download failed: HTTP ${res.status} ${await res.text()}`);
      const name = o.output ?? /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? `${addon}-${backup}`;
      await pipeline(Readable.fromWeb(res.body as never), createWriteStream(name, { mode: 0o600 }));
      emit(globals(cmd), { file: name }, () => `Wrote ${name}.`);
    });
  addons
    .command('restore <addon> <backup>')
    .description('restore a backup into the add-on (its current data is replaced; asks you to type the add-on name)')
    .option('--confirm <addon>', 'the add-on name, instead of typing it')
    .action(async (addon: string, backup: string, o: { confirm?: string }, cmd: Command) => {
      await confirmTyped(addon, o.confirm, `This replaces the data of ${addon} with backup ${backup}. Type the add-on name to go on: `);
      const c = client(cmd);
      const job = await c.call('restoreBackup', { params: { id: addon }, body: { backup } });
      const done = await waitJob(c, addon, job.id);
      emit(globals(cmd), done, () => jobLine(done));
      if (done.status === 'failed') process.exitCode = 1;
    });
  registerAddonSessions(addons);
}
