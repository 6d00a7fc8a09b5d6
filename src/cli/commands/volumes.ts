import type { Command } from 'commander';
import { client, globals } from '../session.js';
import { details, emit, table } from '../output.js';
import { confirmTyped } from '../prompt.js';
import type { RouteOutput } from '../../api/contract/index.js';
import { registerBackupCommands, scheduleLine } from './backups.js';

type Volume = RouteOutput<'getVolume'>;
const row = (v: Volume) => ({
  ...v,
  project: v.project.name,
  mounted_by: v.mounted_by.join(', ') || '-',
  // Recorded, not enforced: said where it is shown.
  size_mb: v.size_mb === null ? '-' : `${v.size_mb} (not enforced)`,
  used: v.used_bytes === null ? '- (no app has mounted it yet)' : `${v.used_bytes} bytes`,
  schedule: scheduleLine(v),
});

export function registerVolumes(program: Command) {
  const volumes = program.command('volumes').description('volumes: named storage of a project, mounted into its apps');
  volumes
    .command('create <name>')
    .description('create a volume (mount it with: berth apps update APP --volume NAME:/path)')
    .option('--project <project>', 'project (default: your default project)')
    .option('--size <mb>', 'size in MB (recorded; the local driver does not enforce it)', (v) => Number.parseInt(v, 10))
    .option('--backup-schedule <cron>', 'automatic backups, cron in UTC ("0 3 * * *")')
    .option('--backup-keep <n>', 'backups kept (default 7)', (v) => Number.parseInt(v, 10))
    .action(async (name: string, o: { project?: string; size?: number; backupSchedule?: string; backupKeep?: number }, cmd: Command) => {
      const v = await client(cmd).call('createVolume', { body: { name, project: o.project, size_mb: o.size, backup_schedule: o.backupSchedule, backup_keep: o.backupKeep } });
      emit(globals(cmd), v, () => `Created volume ${v.name} in ${v.project.name}.`);
    });
  volumes
    .command('ls')
    .description('list volumes')
    .option('--project <project>', 'only this project')
    .action(async (o: { project?: string }, cmd: Command) => {
      const res = await client(cmd).call('listVolumes', { query: { project: o.project } });
      emit(globals(cmd), res.items, () =>
        table(res.items.map(row), [['name', 'Name'], ['project', 'Project'], ['mounted_by', 'Mounted by'], ['size_mb', 'Size (MB)'], ['created_at', 'Created']]),
      );
    });
  volumes
    .command('info <volume>')
    .description('show a volume')
    .option('--project <project>', 'project of the volume')
    .action(async (volume: string, o: { project?: string }, cmd: Command) => {
      const v = await client(cmd).call('getVolume', { params: { id: volume }, query: { project: o.project } });
      emit(globals(cmd), v, () =>
        details(row(v), [['id', 'Id'], ['name', 'Name'], ['project', 'Project'], ['mounted_by', 'Mounted by'], ['used', 'Used'], ['size_mb', 'Size (MB)'], ['schedule', 'Backups'], ['engine_name', 'Engine volume'], ['created_at', 'Created']]),
      );
    });
  volumes
    .command('rm <volume>')
    .description('delete a volume, its data and its backups (asks you to type its name)')
    .option('--project <project>', 'project of the volume')
    .option('--confirm <volume>', 'the volume name, instead of typing it')
    .action(async (volume: string, o: { project?: string; confirm?: string }, cmd: Command) => {
      await confirmTyped(volume, o.confirm, `This deletes volume ${volume}, its data and its backups. Type its name to go on: `);
      await client(cmd).call('deleteVolume', { params: { id: volume }, query: { project: o.project } });
      emit(globals(cmd), { ok: true }, () => `Deleted volume ${volume}.`);
    });
  registerBackupCommands(volumes, {
    arg: 'volume',
    noun: 'volume',
    base: '/api/v1/volumes',
    calls: {
      update: (c, id, project, body) => c.call('updateVolume', { params: { id }, query: { project }, body }),
      create: (c, id) => c.call('createVolumeBackup', { params: { id } }),
      list: (c, id) => c.call('listVolumeBackups', { params: { id } }),
      restore: (c, id, backup) => c.call('restoreVolume', { params: { id }, body: { backup } }),
      job: (c, id, job) => c.call('getVolumeJob', { params: { id, job } }),
    },
    backupIs: 'a tar snapshot',
    fileIs: 'a tar archive',
    restoreNote: 'its files are replaced; stop the apps that mount it first',
  });
}
