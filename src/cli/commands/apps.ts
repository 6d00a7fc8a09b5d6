import type { Command } from 'commander';
import { client, globals } from '../session.js';
import { details, emit, table } from '../output.js';
import { confirmTyped } from '../prompt.js';
import type { RouteOutput } from '../../api/contract/index.js';
import { parseArgv } from '../../lib/argv.js';

type App = RouteOutput<'getApp'>;

const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new Error(`"${v}" is not a whole number`);
  return n;
};

export function appDetails(a: App): string {
  const env = Object.entries(a.env).map(([k, v]) => `  ${k}=${v}`);
  return [
    details({
      ...a,
      project: a.project.name,
      health: `${a.health_check.path} (timeout ${a.health_check.timeout_s}s)`,
      drain: `${a.drain_timeout_s}s`,
      logs_kept: `${a.log_retention.days} days, ${a.log_retention.mb} MB${a.log_retention.own ? '' : ' (platform default)'}`,
      mounts: a.volumes.map((m) => `${m.volume}:${m.path}`).join(', ') || '-',
      release_cmd: a.release_command.join(' ') || '-',
      placement: a.placement.constraints.join(', ') || 'any node',
      pinned: a.pinned ? `${a.pinned.node} (${a.pinned.constraint}): ${a.pinned.reason}` : '-',
    }, [
      ['name', 'Name'],
      ['slug', 'Slug'],
      ['id', 'Id'],
      ['project', 'Project'],
      ['url', 'URL'],
      ['image', 'Image'],
      ['replicas', 'Replicas'],
      ['memory', 'Memory (MB)'],
      ['cpu', 'CPU'],
      ['port', 'Port'],
      ['strategy', 'Strategy'],
      ['drain', 'Drain timeout'],
      ['logs_kept', 'Logs kept'],
      ['health', 'Health check'],
      ['mounts', 'Volumes'],
      ['release_cmd', 'Release command'],
      ['placement', 'Placement'],
      ...(a.pinned ? ([['pinned', 'Pinned to']] as [string, string][]) : []),
      ['created_at', 'Created'],
    ]),
    `Config vars:${env.length ? `\n${env.join('\n')}` : ' (none)'}`,
  ].join('\n');
}

export function registerApps(program: Command) {
  const apps = program.command('apps').description('manage apps');
  apps
    .command('ls')
    .description('list apps')
    .option('--project <project>', 'only this project')
    .action(async (o: { project?: string }, cmd: Command) => {
      const res = await client(cmd).call('listApps', { query: { limit: 500, ...(o.project ? { project: o.project } : {}) } });
      emit(globals(cmd), res.items, () =>
        table(
          res.items.map((a) => ({ ...a, project: a.project.name })),
          [['name', 'Name'], ['slug', 'Slug'], ['project', 'Project'], ['replicas', 'Replicas'], ['image', 'Image'], ['url', 'URL']],
        ),
      );
    });
  apps
    .command('create <name>')
    .description('create an app')
    .option('--project <project>', 'project (default: your "default" project)')
    .option('--slug <slug>', 'subdomain, unique on the platform (default: the name)')
    .option('--image <image>', 'image to run')
    .option('--port <port>', 'port the app listens on', int)
    .option('--replicas <n>', 'replicas', int)
    .option('--memory <mb>', 'memory limit in MB', int)
    .action(async (name: string, o: { project?: string; slug?: string; image?: string; port?: number; replicas?: number; memory?: number }, cmd: Command) => {
      const a = await client(cmd).call('createApp', { body: { name, ...o } });
      emit(globals(cmd), a, () => `Created app ${a.name} in ${a.project.name}: ${a.url}`);
    });
  apps
    .command('info <app>')
    .description('show an app')
    .action(async (app: string, _o, cmd: Command) => {
      const a = await client(cmd).call('getApp', { params: { id: app } });
      emit(globals(cmd), a, () => appDetails(a));
    });
  apps
    .command('update <app>')
    .description("change an app's config")
    .option('--name <name>', 'rename')
    .option('--image <image>', 'image')
    .option('--port <port>', 'port', int)
    .option('--memory <mb>', 'memory limit in MB', int)
    .option('--cpu <cores>', 'CPU cores (0 = no limit)', Number)
    .option('--strategy <strategy>', 'rolling, blue-green or recreate')
    .option('--health-path <path>', 'health check path')
    .option('--drain-timeout <seconds>', 'how long a replica leaving rotation keeps its requests and streams', int)
    .option('--log-retention-days <n>', "days of log kept (at most the platform's); 'default' for the platform's")
    .option('--log-retention-mb <n>', "MB of log lines kept (at most the platform's); 'default' for the platform's")
    .option('--volume <volume:path>', 'mount a project volume (repeat for several; replaces the mounts; makes a release)', collect, [])
    .option('--no-volumes', 'unmount every volume (makes a release)')
    .option('--release-command <argv>', 'command run once per release before traffic moves (a JSON array, or words split on spaces); "" removes it')
    .option('--constraint <expr>', 'cluster mode: where replicas may run, e.g. node.labels.tier==web (repeat for several; replaces the placement; with the next release)', collect, [])
    .option('--no-constraints', 'cluster mode: replicas may run on any node (with the next release)')
    .action(async (app: string, o: Record<string, unknown>, cmd: Command) => {
      const c = client(cmd);
      const body: Record<string, unknown> = {};
      for (const k of ['name', 'image', 'port', 'memory', 'cpu', 'strategy']) if (o[k] !== undefined) body[k] = o[k];
      if (o.drainTimeout !== undefined) body.drain_timeout_s = o.drainTimeout;
      for (const [opt, key] of [['logRetentionDays', 'log_retention_days'], ['logRetentionMb', 'log_retention_mb']] as const) {
        const v = o[opt];
        if (typeof v === 'string') body[key] = v === 'default' ? null : int(v);
      }
      if (o.volumes === false) body.volumes = [];
      else if ((o.volume as string[]).length) body.volumes = (o.volume as string[]).map(parseMount);
      if (typeof o.releaseCommand === 'string') body.release_command = parseArgv(o.releaseCommand);
      if (o.constraints === false) body.placement = null;
      else if ((o.constraint as string[]).length) body.placement = { constraints: o.constraint };
      if (o.healthPath !== undefined) {
        const cur = await c.call('getApp', { params: { id: app } });
        body.health_check = { ...cur.health_check, path: o.healthPath };
      }
      const a = await c.call('updateApp', { params: { id: app }, body: body as never });
      emit(globals(cmd), a, () => appDetails(a));
    });
  apps
    .command('delete <app>')
    .description('delete an app and everything it runs (its volumes are kept unless --with-volumes)')
    .option('--with-volumes', 'also delete the volumes it mounts (their data is lost): asks you to type the app name')
    .option('--confirm <app>', 'the app name, instead of typing it')
    .action(async (app: string, o: { withVolumes?: boolean; confirm?: string }, cmd: Command) => {
      if (o.withVolumes) await confirmTyped(app, o.confirm, `This deletes ${app} and the data of its volumes. Type the app name to go on: `);
      await client(cmd).call('deleteApp', { params: { id: app }, query: { with_volumes: o.withVolumes ?? false } });
      emit(globals(cmd), { ok: true }, () => `Deleted app ${app}${o.withVolumes ? ' and its volumes' : ''}.`);
    });
}

const collect = (v: string, acc: string[]) => [...acc, v];

/** "data:/data" → {volume: "data", path: "/data"}; the server checks the path. */
function parseMount(spec: string): { volume: string; path: string } {
  const i = spec.indexOf(':');
  if (i <= 0) throw new Error(`--volume ${spec}: expected VOLUME:/path`);
  return { volume: spec.slice(0, i), path: spec.slice(i + 1) };
}
