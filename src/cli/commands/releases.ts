import type { Command } from 'commander';
import { client, globals } from '../session.js';
import { emit, table } from '../output.js';
import { followRollout } from '../progress.js';
import { int } from '../args.js';
import type { BerthClient } from '../../client/index.js';

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
    .description('roll back to a previous release (default: the last live one before the current)')
    .option('--no-wait', 'return at once')
    .action(async (app: string, version: string | undefined, o: { wait: boolean }, cmd: Command) => {
      const c = client(cmd);
      const rel = await c.call('rollbackApp', { params: { id: app }, body: version ? { release: int(version.replace(/^v/, '')) } : {} });
      if (!globals(cmd).json) process.stderr.write(`${rel.description}: v${rel.version}\n`);
      await finish(cmd, c, app, rel.version, o.wait);
      if (!o.wait) emit(globals(cmd), rel, () => '');
    });
}
