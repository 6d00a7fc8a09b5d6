import type { Command } from 'commander';
import { client, globals } from '../session.js';
import { emit, table } from '../output.js';
import { readStdin } from './vendors.js';

export function registerRegistries(program: Command) {
  const reg = program.command('registries').description('private image registry accounts');
  reg
    .command('add <host>')
    .description('add an account for a registry host[:port]; deploys of images on it pull with it')
    .requiredOption('--username <name>', 'registry user')
    .option('--password <password>', 'password or token (prefer --password-stdin: arguments show in ps and shell history)')
    .option('--password-stdin', 'read the password from standard input')
    .action(async (host: string, o: { username: string; password?: string; passwordStdin?: boolean }, cmd: Command) => {
      const password = o.passwordStdin ? await readStdin() : o.password;
      if (!password) throw new Error('give the password with --password-stdin (or --password)');
      const r = await client(cmd).call('createRegistry', { body: { host, username: o.username, password } });
      emit(globals(cmd), r, () => `Added ${r.host} as ${r.username} (${r.id}). Deploy: berth deploy --app APP --image ${r.host}/team/app:1`);
    });
  reg
    .command('ls')
    .description('your registry accounts (passwords are never shown)')
    .action(async (_o, cmd: Command) => {
      const res = await client(cmd).call('listRegistries', {});
      emit(globals(cmd), res.items, () => table(res.items, [['id', 'Id'], ['host', 'Host'], ['username', 'Username'], ['created_at', 'Created']]));
    });
  reg
    .command('rm <id>')
    .description('remove a registry account')
    .action(async (id: string, _o, cmd: Command) => {
      await client(cmd).call('deleteRegistry', { params: { id } });
      emit(globals(cmd), { ok: true }, () => `Removed ${id}.`);
    });
}
