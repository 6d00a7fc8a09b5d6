import type { Command } from 'commander';
import { client, globals } from '../session.js';
import { details, emit, table } from '../output.js';
import { confirmTyped } from '../prompt.js';
import type { RouteOutput } from '../../api/contract.js';

type Volume = RouteOutput<'getVolume'>;
const row = (v: Volume) => ({ ...v, project: v.project.name, mounted_by: v.mounted_by.join(', ') || '-', size_mb: v.size_mb ?? '-' });

export function registerVolumes(program: Command) {
  const volumes = program.command('volumes').description('volumes: named storage of a project, mounted into its apps');
  volumes
    .command('create <name>')
    .description('create a volume (mount it with: berth apps update APP --volume NAME:/path)')
    .option('--project <project>', 'project (default: your default project)')
    .option('--size <mb>', 'size in MB (recorded; the local driver does not enforce it)', (v) => Number.parseInt(v, 10))
    .action(async (name: string, o: { project?: string; size?: number }, cmd: Command) => {
      const v = await client(cmd).call('createVolume', { body: { name, project: o.project, size_mb: o.size } });
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
      emit(globals(cmd), v, () => details(row(v), [['id', 'Id'], ['name', 'Name'], ['project', 'Project'], ['mounted_by', 'Mounted by'], ['size_mb', 'Size (MB)'], ['engine_name', 'Engine volume'], ['created_at', 'Created']]));
    });
  volumes
    .command('rm <volume>')
    .description('delete a volume and its data (asks you to type its name)')
    .option('--project <project>', 'project of the volume')
    .option('--confirm <volume>', 'the volume name, instead of typing it')
    .action(async (volume: string, o: { project?: string; confirm?: string }, cmd: Command) => {
      await confirmTyped(volume, o.confirm, `This deletes volume ${volume} and its data. Type its name to go on: `);
      await client(cmd).call('deleteVolume', { params: { id: volume }, query: { project: o.project } });
      emit(globals(cmd), { ok: true }, () => `Deleted volume ${volume}.`);
    });
}
