import type { Command } from 'commander';
import { client, globals } from '../session.js';
import { emit, table } from '../output.js';
import { finish } from './releases.js';

/** env ls/set/unset: config vars (set and unset make a release). */
export function registerEnv(program: Command) {
  const env = program.command('env').description('config vars');
  env
    .command('ls <app>')
    .description('list config vars (secrets masked)')
    .action(async (app: string, _o, cmd: Command) => {
      const a = await client(cmd).call('getApp', { params: { id: app } });
      emit(globals(cmd), { env: a.env, secret_env: a.secret_env }, () =>
        table(Object.entries(a.env).map(([k, v]) => ({ k, v, s: a.secret_env.includes(k) })), [['k', 'Key'], ['v', 'Value'], ['s', 'Secret']]),
      );
    });
  env
    .command('set <app> <pairs...>')
    .description('set vars: KEY=value ...; makes a new release')
    .option('--secret', 'mark these vars secret (encrypted at rest, masked)')
    .option('--no-wait', 'return at once')
    .action(async (app: string, pairs: string[], o: { secret?: boolean; wait: boolean }, cmd: Command) => {
      const set: Record<string, string> = {};
      for (const p of pairs) {
        const i = p.indexOf('=');
        if (i <= 0) throw new Error(`"${p}" is not KEY=value`);
        set[p.slice(0, i)] = p.slice(i + 1);
      }
      const c = client(cmd);
      const res = await c.call('setEnv', { params: { id: app }, body: { set, ...(o.secret ? { secret: Object.keys(set) } : {}) } });
      if (!globals(cmd).json) process.stderr.write(`Set ${Object.keys(set).join(', ')}${res.release ? ` (v${res.release.version})` : ''}.\n`);
      if (res.release) await finish(cmd, c, app, res.release.version, o.wait);
      else emit(globals(cmd), res, () => '');
    });
  env
    .command('unset <app> <keys...>')
    .description('unset vars; makes a new release')
    .option('--no-wait', 'return at once')
    .action(async (app: string, keys: string[], o: { wait: boolean }, cmd: Command) => {
      const c = client(cmd);
      const res = await c.call('setEnv', { params: { id: app }, body: { unset: keys } });
      if (!globals(cmd).json) process.stderr.write(`Unset ${keys.join(', ')}${res.release ? ` (v${res.release.version})` : ''}.\n`);
      if (res.release) await finish(cmd, c, app, res.release.version, o.wait);
      else emit(globals(cmd), res, () => '');
    });
}
