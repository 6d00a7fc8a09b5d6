import type { Command } from 'commander';
import { client, globals } from '../session.js';
import { emit } from '../output.js';
import { int } from '../args.js';
import type { BerthClient } from '../../client/index.js';

/** Waits until the app's containers settle after a scale or restart. */
async function settle(cmd: Command, c: BerthClient, app: string, want: number) {
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    // Web replicas: a scale leaves the other process types (workers) as they are.
    const ctrs = (await c.call('listContainers', { query: { app } })).items.filter((x) => x.process_type === 'web');
    const healthy = ctrs.filter((x) => x.status === 'healthy' && x.in_rotation).length;
    if (!globals(cmd).json) process.stderr.write(`\r\x1b[2K${healthy}/${want} replicas healthy`);
    if (healthy === want && ctrs.length === want) break;
    if (Date.now() > deadline) throw new Error(`${app} did not settle at ${want} replicas; see \`berth ps ${app}\``);
    await new Promise((r) => setTimeout(r, 500));
  }
  if (!globals(cmd).json) process.stderr.write('\n');
}

/** scale, restart, stop, start: actions on an app. */
export function registerAppActions(program: Command) {
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
          const ctrs = (await c.call('listContainers', { query: { app } })).items.filter((x) => x.process_type === 'web');
          if (ctrs.length === a.replicas && ctrs.every((x) => !before.has(x.id) && x.status === 'healthy')) break;
          if (Date.now() > deadline) throw new Error(`${app} did not finish restarting; see \`berth ps ${app}\``);
          await new Promise((r) => setTimeout(r, 500));
        }
      }
      emit(globals(cmd), a, () => `${a.slug} restarted.`);
    });

  const toggles = [
    ['stop', 'stopApp', 'stop all replicas; the URL answers 503', 'stopped'],
    ['start', 'startApp', 'start a stopped app', 'starting'],
  ] as const;
  for (const [name, route, description, done] of toggles) {
    program
      .command(`${name} <app>`)
      .description(description)
      .action(async (app: string, _o, cmd: Command) => {
        const a = await client(cmd).call(route, { params: { id: app } });
        emit(globals(cmd), a, () => `${a.slug} ${done}.`);
      });
  }
}
