import type { Command } from 'commander';
import { client, globals } from '../session.js';
import { emit, table } from '../output.js';
import { followRollout } from '../progress.js';
import { int } from '../args.js';
import { ask } from '../prompt.js';
import type { BerthClient } from '../../client/index.js';
import type { RouteOutput } from '../../api/contract/index.js';

/** Waits for a release unless --no-wait; with --json, prints the final release. */
export async function finish(cmd: Command, c: BerthClient, app: string, version: number, wait: boolean) {
  const opts = globals(cmd);
  if (!wait) return;
  const rel = await followRollout(c, app, version, { quiet: opts.json });
  if (opts.json) emit(opts, rel, () => '');
  if (rel.status !== 'live') process.exitCode = 1;
}

/** releases, rollback. */
export function registerReleases(program: Command) {
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
    .description('roll back to a previous release (default: the last live one before the current); prints what it changes, and on a terminal asks first')
    .option('--no-wait', 'return at once')
    .option('-y, --yes', 'do not ask (the change is still printed)')
    .action(async (app: string, version: string | undefined, o: { wait: boolean; yes?: boolean }, cmd: Command) => {
      const c = client(cmd);
      const json = globals(cmd).json;
      const target = version ? int(version.replace(/^v/, '')) : await previousLive(c, app);
      if (target !== undefined && !json) {
        const diff = await c.call('diffRelease', { params: { id: app, version: target } });
        process.stderr.write(describeDiff(app, diff));
        if (process.stdin.isTTY && !o.yes) {
          const answer = await ask(`Roll back ${app} to v${target}? [y/N] `);
          if (!/^y(es)?$/i.test(answer.trim())) {
            process.stderr.write('Nothing was changed.\n');
            process.exitCode = 1;
            return;
          }
        }
      }
      // Without a release the server picks the default, and says why when there is none.
      const rel = await c.call('rollbackApp', { params: { id: app }, body: target !== undefined ? { release: target } : {} });
      if (!json) process.stderr.write(`${rel.description}: v${rel.version}\n`);
      await finish(cmd, c, app, rel.version, o.wait);
      if (!o.wait) emit(globals(cmd), rel, () => '');
    });
}

/** The server's default target: the newest release before the live one that was live once. */
async function previousLive(c: BerthClient, app: string): Promise<number | undefined> {
  const items = (await c.call('listReleases', { params: { id: app } })).items;
  const live = items.find((r) => r.current);
  return items.find((r) => (live ? r.version < live.version : true) && (r.status === 'superseded' || r.status === 'rolled-back'))?.version;
}

/** What a rollback will change, in the dashboard's words: secrets by name only. */
export function describeDiff(app: string, d: RouteOutput<'diffRelease'>): string {
  const lines = d.env.map((e) => {
    const what = e.secret ? `${e.change} (secret: value not shown)` : e.change === 'added' ? `added: ${e.to}` : e.change === 'removed' ? `removed: ${e.from}` : `changed: ${e.from} -> ${e.to}`;
    return `  ${e.key} ${what}`;
  });
  for (const s of d.settings) lines.push(`  ${s.setting}: ${s.from} -> ${s.to}`);
  const from = d.live === null ? 'no live release' : `v${d.live}`;
  if (!lines.length) return `Rolling ${app} back from ${from} to v${d.target} changes the code only: no config var or setting differs.\n`;
  return `Rolling ${app} back from ${from} to v${d.target} changes:\n${lines.join('\n')}\n`;
}
