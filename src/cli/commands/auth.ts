import type { Command } from 'commander';
import { BerthClient } from '../../client/index.js';
import { clearConfig, readConfig, writeConfig } from '../config.js';
import { ask } from '../prompt.js';
import { client, globals, serverUrl } from '../session.js';
import { details, emit, table } from '../output.js';

const userFields: [string, string][] = [
  ['username', 'User'],
  ['id', 'Id'],
  ['is_admin', 'Admin'],
  ['disabled', 'Disabled'],
  ['created_at', 'Created'],
];

export function registerAuth(program: Command) {
  program
    .command('login')
    .description('log in and store a token')
    .option('-u, --username <name>', 'username (asked if missing)')
    .option('-p, --password <password>', 'password (asked if missing; or BERTH_PASSWORD)')
    .action(async (o: { username?: string; password?: string }, cmd: Command) => {
      const opts = globals(cmd);
      const server = serverUrl(opts);
      const username = o.username ?? (await ask('Username: '));
      const password = o.password ?? process.env.BERTH_PASSWORD ?? (await ask('Password: ', true));
      const res = await new BerthClient({ baseUrl: server }).call('login', { body: { username, password } });
      writeConfig({ server, token: res.token, username: res.user.username });
      emit(opts, { server, user: res.user }, () => `Logged in to ${server} as ${res.user.username}.`);
    });

  program
    .command('logout')
    .description('forget the stored token (and revoke it)')
    .action(async (_o, cmd: Command) => {
      const cfg = readConfig();
      if (cfg.token) {
        try {
          const c = client(cmd);
          const tokens = await c.call('listTokens');
          // The stored token is the newest "login" token we made; revoke it so it cannot be reused.
          const mine = tokens.items.filter((t) => t.name === 'login').pop();
          if (mine) await c.call('revokeToken', { params: { id: mine.id } });
        } catch {
          /* the server may be gone; forgetting the token locally is what matters */
        }
      }
      clearConfig();
      emit(globals(cmd), { ok: true }, () => 'Logged out.');
    });

  program
    .command('whoami')
    .description('show the logged-in user')
    .action(async (_o, cmd: Command) => {
      const me = await client(cmd).call('whoami');
      emit(globals(cmd), me, () => details(me, userFields));
    });

  program
    .command('passwd')
    .description('change your password')
    .option('--current <password>', 'current password (asked if missing)')
    .option('--new <password>', 'new password (asked if missing)')
    .action(async (o: { current?: string; new?: string }, cmd: Command) => {
      const current_password = o.current ?? (await ask('Current password: ', true));
      const new_password = o.new ?? (await ask('New password: ', true));
      await client(cmd).call('changePassword', { body: { current_password, new_password } });
      emit(globals(cmd), { ok: true }, () => 'Password changed.');
    });

  const tokens = program.command('tokens').description('manage your API tokens');
  tokens
    .command('ls')
    .description('list your tokens')
    .action(async (_o, cmd: Command) => {
      const res = await client(cmd).call('listTokens');
      emit(globals(cmd), res.items, () =>
        table(res.items, [['id', 'Id'], ['name', 'Name'], ['created_at', 'Created'], ['last_used_at', 'Last used'], ['expires_at', 'Expires']]),
      );
    });
  tokens
    .command('create <name>')
    .description('create a token (shown once)')
    .option('--days <n>', 'expire after n days', (v) => Number.parseInt(v, 10))
    .action(async (name: string, o: { days?: number }, cmd: Command) => {
      const t = await client(cmd).call('createToken', { body: { name, ...(o.days ? { expires_in_days: o.days } : {}) } });
      emit(globals(cmd), t, () => `Token "${t.name}" (${t.id}):\n${t.token}\nIt is shown only this once.`);
    });
  tokens
    .command('revoke <id>')
    .description('revoke a token')
    .action(async (id: string, _o, cmd: Command) => {
      await client(cmd).call('revokeToken', { params: { id } });
      emit(globals(cmd), { ok: true }, () => `Revoked ${id}.`);
    });

  const users = program.command('users').description('manage users (admin)');
  users
    .command('ls')
    .description('list users')
    .action(async (_o, cmd: Command) => {
      const res = await client(cmd).call('listUsers');
      emit(globals(cmd), res.items, () => table(res.items, userFields));
    });
  users
    .command('create <username>')
    .description('create a user')
    .option('-p, --password <password>', 'password (asked if missing)')
    .option('--admin', 'make the user an admin')
    .action(async (username: string, o: { password?: string; admin?: boolean }, cmd: Command) => {
      const password = o.password ?? (await ask(`Password for ${username}: `, true));
      const u = await client(cmd).call('createUser', { body: { username, password, ...(o.admin ? { is_admin: true } : {}) } });
      emit(globals(cmd), u, () => `Created user ${u.username} (${u.id}).`);
    });
  for (const [name, disabled] of [['disable', true], ['enable', false]] as const) {
    users
      .command(`${name} <user>`)
      .description(`${name} a user`)
      .action(async (user: string, _o, cmd: Command) => {
        const u = await client(cmd).call('updateUser', { params: { id: user }, body: { disabled } });
        emit(globals(cmd), u, () => `User ${u.username} ${disabled ? 'disabled' : 'enabled'}.`);
      });
  }
  users
    .command('delete <user>')
    .description('delete a user')
    .action(async (user: string, _o, cmd: Command) => {
      await client(cmd).call('deleteUser', { params: { id: user } });
      emit(globals(cmd), { ok: true }, () => `Deleted user ${user}.`);
    });
}
