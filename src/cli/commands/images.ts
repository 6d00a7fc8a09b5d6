import type { Command } from 'commander';
import { client, globals } from '../session.js';
import { emit, table } from '../output.js';

const mb = (n: number | null) => (n === null ? null : `${(n / 1024 / 1024).toFixed(1)} MB`);

export function registerImages(program: Command) {
  const images = program
    .command('images')
    .description('images Berth built or pulled, per app, with the releases that use them')
    .option('--app <app>', 'only this app')
    .action(async (o: { app?: string }, cmd: Command) => {
      const res = await client(cmd).call('listImages', { query: o.app ? { app: o.app } : {} });
      const rows = res.items.map((i) => ({
        ...i,
        app: i.app.slug,
        from: i.build ? `build #${i.build.number}${i.build.commit_sha ? ` ${i.build.commit_sha.slice(0, 7)}` : ''}` : i.source,
        used_by: i.releases.map((v) => `v${v}`).join(',') || '-',
        size: mb(i.size),
        state: !i.present ? 'removed' : i.live ? 'live' : i.kept ? 'kept' : 'collectable',
      }));
      emit(globals(cmd), res, () =>
        `${table(rows, [['app', 'App'], ['image', 'Image'], ['from', 'Source'], ['used_by', 'Releases'], ['size', 'Size'], ['created', 'Created'], ['state', 'State']])}\n(garbage collection keeps the images of the last ${res.keep_releases} releases, the live one and its rollback target)`,
      );
    });
  images
    .command('prune')
    .description('remove now the images no release needs')
    .option('--app <app>', 'only this app')
    .action(async (o: { app?: string }, cmd: Command) => {
      const res = await client(cmd).call('pruneImages', { body: o.app ? { app: o.app } : {} });
      emit(globals(cmd), res, () =>
        [
          res.removed.length ? res.removed.map((r) => `removed ${r.image} (${r.app})`).join('\n') : 'Nothing to remove.',
          ...res.skipped.map((s) => `kept ${s.image}: ${s.reason}`),
          `Freed ${mb(res.freed_bytes)}.`,
        ].join('\n'),
      );
    });
}
