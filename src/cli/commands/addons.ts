import type { Command } from 'commander';
import type { RouteOutput } from '../../api/contract/index.js';
import { client, globals } from '../session.js';
import { details, emit, table } from '../output.js';
import { confirmTyped } from '../prompt.js';
import { registerAddonSessions } from './addon-session.js';
import { registerAddonUpgrade } from './addon-upgrade.js';
import { downloadBackup, registerBackupCommands, scheduleLine, verifiedCell } from './backups.js';

type Addon = RouteOutput<'getAddon'>;

const addonRow = (a: Addon) => ({
  ...a,
  // "postgres 17": the type and its major version, when the image is one Berth offers.
  type: a.version ? `${a.type} ${a.version}` : a.type,
  project: a.project.name,
  address: `${a.host}:${a.port}`,
  attached: a.attachments.map((t) => `${t.app} (${t.var})`).join(', ') || '-',
  schedule: scheduleLine(a),
  pitr: a.pitr ? (a.pitr.earliest ? `from ${a.pitr.earliest} to now (${a.pitr.window_days} days kept)` : `no base backup yet (${a.pitr.window_days} days kept)`) : '-',
  forked: a.fork ? `${a.fork.of ?? '(deleted)'} at ${a.fork.target}; recovered to ${a.fork.recovered_to ?? '(restoring)'}` : '-',
  checks: [
    a.verify_query ? `query: ${a.verify_query}` : a.type === 'postgres' ? 'query: the default (count the user tables)' : 'DBSIZE',
    a.pitr?.verified ? `newest base backup (${a.pitr.verified.base_at}): ${a.pitr.verified.status === 'ok' ? `ok (${a.pitr.verified.answer})` : `failed: ${a.pitr.verified.error}`}` : null,
  ]
    .filter(Boolean)
    .join('; '),
  rewound: a.rewind ? `to ${a.rewind.target}; recovered to ${a.rewind.recovered_to ?? '(restoring)'}` : '-',
});

/**
 * `berth addons restore DB --to TIME`: a fork of DB at that time; with `--in-place`, DB itself goes
 * back to that time after its name is typed. Waited for until it runs (or fails), with the
 * recovery point reached.
 */
async function restoreTo(cmd: Command, addon: string, o: { to: string; name?: string; project?: string; wait: boolean; inPlace?: boolean; confirm?: string }) {
  const c = client(cmd);
  let f: Addon;
  if (o.inPlace) {
    if (o.name) throw new Error('--name is for a fork: an in-place restore keeps the add-on');
    await confirmTyped(addon, o.confirm, `This puts add-on ${addon} back to ${o.to}: what was written since then is set aside. Type its name to go on: `);
    f = await c.call('rewindAddon', { params: { id: addon }, query: { project: o.project }, body: { to: o.to, confirm: addon } });
  } else {
    f = await c.call('forkAddon', { params: { id: addon }, query: { project: o.project }, body: { to: o.to, name: o.name } });
  }
  while (o.wait && f.status === 'creating') {
    await new Promise((r) => setTimeout(r, 500));
    f = await c.call('getAddon', { params: { id: f.id }, query: {} });
  }
  // In place, a rewind that ended without one (its target not reached, nothing changed) is a failure too.
  const undone = o.inPlace && o.wait && f.status !== 'creating' && !f.rewind;
  if (f.status === 'failed' || undone) process.exitCode = 1;
  const r = o.inPlace ? f.rewind : f.fork;
  emit(globals(cmd), f, () =>
    f.status === 'failed' || undone
      ? `Restore of ${addon} failed: ${f.message ?? ''}`
      : f.status !== 'running'
        ? `Restoring ${addon} to ${r?.target}${o.inPlace ? ' in place' : ` as new add-on ${f.name}`} in the background (berth addons info ${f.name}).`
        : o.inPlace
          ? `Restored ${addon} in place to ${r?.target}; recovery point (last transaction replayed): ${r?.recovered_to}.`
          : `Restored ${addon} to ${r?.target} as new add-on ${f.name}; recovery point (last transaction replayed): ${r?.recovered_to}. Attach it with: berth addons attach ${f.name} --app APP`,
  );
}

export function registerAddons(program: Command) {
  const addons = program.command('addons').description('managed PostgreSQL and Redis add-ons, their attachments and backups');
  addons
    .command('create <type>')
    .description('create a postgres or redis add-on in a project')
    .option('--name <name>', 'its name and host name on the project network (default: the type)')
    .option('--project <project>', 'project (default: your default project)')
    .option('--major <version>', 'major version: postgres 17 (default) or 15; redis 7')
    .option('--backup-schedule <cron>', 'automatic backups, cron in UTC ("0 3 * * *")')
    .option('--backup-keep <n>', 'backups kept (default 7)', (v) => Number.parseInt(v, 10))
    .option('--pitr-days <n>', 'postgres: days of point-in-time recovery (default 7)', (v) => Number.parseInt(v, 10))
    .action(async (type: string, o: { name?: string; project?: string; major?: string; backupSchedule?: string; backupKeep?: number; pitrDays?: number }, cmd: Command) => {
      const a = await client(cmd).call('createAddon', {
        body: { type: type as 'postgres', name: o.name, project: o.project, version: o.major, backup_schedule: o.backupSchedule, backup_keep: o.backupKeep, pitr_days: o.pitrDays },
      });
      emit(globals(cmd), a, () => `Created ${a.type}${a.version ? ` ${a.version}` : ''} add-on ${a.name} in ${a.project.name}; it starts in the background (berth addons info ${a.name}).`);
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
        details(addonRow(a), [['id', 'Id'], ['name', 'Name'], ['type', 'Type'], ['project', 'Project'], ['status', 'Status'], ['message', 'Message'], ['address', 'Address'], ['image', 'Image'], ['attached', 'Attached to'], ['schedule', 'Backups'], ['pitr', 'Point-in-time'], ['checks', 'Restore checks'], ['forked', 'Fork of'], ['rewound', 'Restored in place'], ['created_at', 'Created']]),
      );
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
  registerBackupCommands(addons, {
    arg: 'addon',
    noun: 'add-on',
    base: '/api/v1/addons',
    calls: {
      update: (c, id, project, body) => c.call('updateAddon', { params: { id }, query: { project }, body }),
      create: (c, id) => c.call('createBackup', { params: { id } }),
      list: (c, id) => c.call('listBackups', { params: { id } }),
      restore: (c, id, backup) => c.call('restoreBackup', { params: { id }, body: { backup } }),
      job: (c, id, job) => c.call('getAddonJob', { params: { id, job } }),
    },
    backupIs: 'pg_dump -Fc, or a Redis RDB snapshot',
    fileIs: 'pg_dump custom format, or Redis RDB',
    restoreNote: 'its current data is replaced',
    restoreTo,
    verifyQuery: true,
  });
  addons
    .command('verify <addon> <backup>')
    .description('check a backup again: restore it into a throwaway container and run the add-on\'s query; waits for the result')
    .option('--no-wait', 'return once it is asked for')
    .action(async (addon: string, backup: string, o: { wait: boolean }, cmd: Command) => {
      const c = client(cmd);
      let j = await c.call('verifyAddonBackup', { params: { id: addon, job: backup } });
      while (o.wait && j.verified?.status === 'pending') {
        await new Promise((r) => setTimeout(r, 500));
        j = await c.call('getAddonJob', { params: { id: addon, job: backup } });
      }
      const v = j.verified;
      emit(globals(cmd), j, () => `backup ${j.id}: ${verifiedCell(j)}${v?.duration_ms != null && v.status !== 'pending' ? ` in ${(v.duration_ms / 1000).toFixed(1)} s` : ''}`);
      if (v?.status === 'failed') process.exitCode = 1;
    });
  addons
    .command('download <addon> <backup>')
    .description('download a backup to a file (the same as: backups download ADDON BACKUP)')
    .option('-o, --output <file>', 'file to write (default: <addon>-<backup>.dump|.rdb)')
    .action(async (addon: string, backup: string, o: { output?: string }, cmd: Command) => {
      await downloadBackup(cmd, '/api/v1/addons', addon, backup, o.output);
    });
  registerAddonUpgrade(addons);
  registerAddonSessions(addons);
}
