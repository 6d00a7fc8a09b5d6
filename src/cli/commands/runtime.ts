import type { Command } from 'commander';
import WebSocket from 'ws';
import { client, globals } from '../session.js';
import { emit, table } from '../output.js';
import { followRollout } from '../progress.js';
import type { BerthClient } from '../../client/index.js';

const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`"${v}" is not a whole number`);
  return n;
};

/** Waits for a release unless --no-wait; with --json, prints the final release. */
async function finish(cmd: Command, c: BerthClient, app: string, version: number, wait: boolean) {
  const opts = globals(cmd);
  if (!wait) return;
  const rel = await followRollout(c, app, version, { quiet: opts.json });
  if (opts.json) emit(opts, rel, () => '');
  if (rel.status !== 'live') process.exitCode = 1;
}

/** Waits until the app's containers settle after a scale or restart. */
async function settle(cmd: Command, c: BerthClient, app: string, want: number) {
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    const ctrs = (await c.call('listContainers', { query: { app } })).items;
    const healthy = ctrs.filter((x) => x.status === 'healthy' && x.in_rotation).length;
    if (!globals(cmd).json) process.stderr.write(`\r\x1b[2K${healthy}/${want} replicas healthy`);
    if (healthy === want && ctrs.length === want) break;
    if (Date.now() > deadline) throw new Error(`${app} did not settle at ${want} replicas; see \`berth ps ${app}\``);
    await new Promise((r) => setTimeout(r, 500));
  }
  if (!globals(cmd).json) process.stderr.write('\n');
}

export function registerRuntime(program: Command) {
  program
    .command('scale <app> <replicas>')
    .description('set the number of replicas (0 allowed)')
    .option('--no-wait', 'return at once')
    .action(async (app: string, replicas: string, o: { wait: boolean }, cmd: Command) => {
      const c = client(cmd);
      const n = int(replicas);
      const a = await c.call('scaleApp', { params: { id: app }, body: { replicas: n } });
      if (o.wait && a.release !== null) await settle(cmd, c, app, n);
      emit(globals(cmd), a, () => `${a.slug} scaled to ${n}.`);
    });

  program
    .command('restart <app>')
    .description('rolling restart')
    .option('--no-wait', 'return at once')
    .action(async (app: string, o: { wait: boolean }, cmd: Command) => {
      const c = client(cmd);
      const before = new Set((await c.call('listContainers', { query: { app } })).items.map((x) => x.id));
      const a = await c.call('restartApp', { params: { id: app } });
      if (o.wait) {
        // Done when every replica is a new one and healthy.
        const deadline = Date.now() + 10 * 60_000;
        for (;;) {
          const ctrs = (await c.call('listContainers', { query: { app } })).items;
          if (ctrs.length === a.replicas && ctrs.every((x) => !before.has(x.id) && x.status === 'healthy')) break;
          if (Date.now() > deadline) throw new Error(`${app} did not finish restarting; see \`berth ps ${app}\``);
          await new Promise((r) => setTimeout(r, 500));
        }
      }
      emit(globals(cmd), a, () => `${a.slug} restarted.`);
    });

  program
    .command('stop <app>')
    .description('stop all replicas; the URL answers 503')
    .action(async (app: string, _o, cmd: Command) => {
      const a = await client(cmd).call('stopApp', { params: { id: app } });
      emit(globals(cmd), a, () => `${a.slug} stopped.`);
    });

  program
    .command('start <app>')
    .description('start a stopped app')
    .action(async (app: string, _o, cmd: Command) => {
      const a = await client(cmd).call('startApp', { params: { id: app } });
      emit(globals(cmd), a, () => `${a.slug} starting.`);
    });

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

  program
    .command('releases <app>')
    .description('list releases, newest first')
    .action(async (app: string, _o, cmd: Command) => {
      const res = await client(cmd).call('listReleases', { params: { id: app } });
      emit(globals(cmd), res.items, () =>
        table(
          res.items.map((r) => ({ ...r, v: `v${r.version}${r.current ? ' *' : ''}`, why: r.reason?.split('\n')[0] ?? '' })),
          [['v', 'Version'], ['status', 'Status'], ['description', 'Description'], ['image', 'Image'], ['created_at', 'Created'], ['why', 'Reason']],
        ),
      );
    });

  program
    .command('rollback <app> [version]')
    .description('roll back to a previous release (default: the last live one before the current)')
    .option('--no-wait', 'return at once')
    .action(async (app: string, version: string | undefined, o: { wait: boolean }, cmd: Command) => {
      const c = client(cmd);
      const rel = await c.call('rollbackApp', { params: { id: app }, body: version ? { release: int(version.replace(/^v/, '')) } : {} });
      if (!globals(cmd).json) process.stderr.write(`${rel.description}: v${rel.version}\n`);
      await finish(cmd, c, app, rel.version, o.wait);
      if (!o.wait) emit(globals(cmd), rel, () => '');
    });

  program
    .command('ps [app]')
    .description('list containers')
    .action(async (app: string | undefined, _o, cmd: Command) => {
      const res = await client(cmd).call('listContainers', { query: app ? { app } : {} });
      emit(globals(cmd), res.items, () =>
        table(
          res.items.map((x) => ({ ...x, app: x.app.slug, v: `v${x.release}`, traffic: x.in_rotation })),
          [['id', 'Id'], ['app', 'App'], ['v', 'Release'], ['replica', 'Replica'], ['status', 'Status'], ['traffic', 'Traffic'], ['address', 'Address'], ['updated_at', 'Updated']],
        ),
      );
    });

  program
    .command('logs <app>')
    .description('show the log of all replicas')
    .option('-f, --follow', 'keep printing new lines')
    .option('-n, --tail <n>', 'lines to show', int, 100)
    .action(async (app: string, o: { follow?: boolean; tail: number }, cmd: Command) => {
      const c = client(cmd);
      const json = globals(cmd).json;
      const print = (l: { time: string; container?: string; line: string }) =>
        process.stdout.write(json ? `${JSON.stringify(l)}\n` : `${l.time} ${l.container ?? ''} ${l.line}\n`);
      if (!o.follow) {
        for (const l of (await c.call('appLogs', { params: { id: app }, query: { tail: o.tail } })).lines) print(l);
        return;
      }
      const url = new URL(`/ws/apps/${encodeURIComponent(app)}/logs?tail=${o.tail}`, c.opts.baseUrl);
      url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
      await new Promise<void>((resolve, reject) => {
        const ws = new WebSocket(url, { headers: { authorization: `Bearer ${c.opts.token}` } });
        ws.on('message', (data) => {
          const msg = JSON.parse(String(data)) as { error?: { message: string }; time: string; line: string; container?: string };
          if (msg.error) reject(new Error(msg.error.message));
          else print(msg);
        });
        ws.on('unexpected-response', (_req, res) => reject(new Error(`cannot follow logs: HTTP ${res.statusCode}`)));
        ws.on('error', reject);
        ws.on('close', () => resolve());
        process.once('SIGINT', () => ws.close());
      });
    });
}
