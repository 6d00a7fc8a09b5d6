import type { Command } from 'commander';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { globals } from '../session.js';
import { emit } from '../output.js';

/** Commands an operator runs on the control plane's own machine, against its files and database, not through the API. */
export function registerAdmin(program: Command) {
  const admin = program.command('admin').description("operator commands, run on the control plane's machine");
  admin
    .command('migrate-db')
    .description('copy a single-node install from SQLite to an empty PostgreSQL database (stop the control plane first)')
    .option('--data-dir <dir>', 'the data directory of the SQLite install (default: BERTH_DATA_DIR or ~/.berth)')
    .option('--to <url>', 'the PostgreSQL database to fill, empty (default: DATABASE_URL)')
    .action(async (opts: { dataDir?: string; to?: string }, cmd: Command) => {
      const json = !!globals(cmd).json;
      const dataDir = resolve(opts.dataDir ?? process.env.BERTH_DATA_DIR ?? join(homedir(), '.berth'));
      const url = opts.to ?? process.env.DATABASE_URL;
      if (!url) throw new Error('name the PostgreSQL database: --to postgres://... or DATABASE_URL');
      // Loaded only here: the rest of the CLI never opens a database.
      const { migrateDb } = await import('../../server/migrate-db.js');
      let lastAt = 0;
      const r = await migrateDb({
        dataDir,
        databaseUrl: url,
        progress: (p) => {
          // Progress goes to stderr, so --json's stdout stays one document.
          // A line per table when done, and one a second while a big table is under way.
          if (p.done === p.rows) process.stderr.write(`${p.table}: ${p.rows} rows\n`);
          else if (p.done > 0 && performance.now() - lastAt >= 1000) process.stderr.write(`${p.table}: ${p.done}/${p.rows} rows\n`);
          else return;
          lastAt = performance.now();
        },
      });
      emit({ json }, { ok: true, data_dir: dataDir, ...r }, () =>
        [
          `Copied ${r.rows} rows of ${Object.keys(r.tables).length} tables to ${r.target} in ${r.seconds} s. The SQLite database is left as it was.`,
          `Start the control plane on PostgreSQL: the same BERTH_DATA_DIR (${dataDir}: its secret.key opens the sealed secrets; or the same BERTH_SECRET_KEY) with DATABASE_URL set to that database.`,
        ].join('\n'),
      );
    });
}
