import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openStore, type Store } from '../store/db.js';
import { copySqliteToPostgres, CopyRefused, refuseForeignTarget, type CopyProgress } from '../store/copy-db.js';

export { CopyRefused };

export interface MigrateResult {
  tables: Record<string, number>;
  rows: number;
  seconds: number;
  /** The target without its password. */
  target: string;
}

/** A database URL fit to print: no password. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

/** The control plane started by scripts/up.sh writes its pid here; a live one must be stopped first. */
function runningPid(dataDir: string): number | null {
  const file = join(dataDir, 'berth.pid');
  if (!existsSync(file)) return null;
  const pid = Number(readFileSync(file, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    // EPERM: it exists, owned by someone else.
    return (err as { code?: string }).code === 'EPERM' ? pid : null;
  }
}

/**
 * `berth admin migrate-db`: every row of the single-node SQLite database under dataDir into an
 * empty PostgreSQL database, in one transaction. Run with the control plane stopped: a write made
 * on SQLite after the copy would not be in PostgreSQL. The sealed secrets are copied as they are:
 * the PostgreSQL-backed control plane opens them with the same key (the data directory's
 * secret.key, or the same BERTH_SECRET_KEY).
 */
export async function migrateDb(o: { dataDir: string; databaseUrl: string; progress?: (p: CopyProgress) => void }): Promise<MigrateResult> {
  if (!/^postgres(ql)?:\/\//.test(o.databaseUrl)) throw new CopyRefused('the target must be a postgres:// URL (--to or DATABASE_URL)');
  if (!existsSync(join(o.dataDir, 'berth.db'))) throw new CopyRefused(`no SQLite database at ${join(o.dataDir, 'berth.db')} (--data-dir or BERTH_DATA_DIR)`);
  const pid = runningPid(o.dataDir);
  if (pid !== null) throw new CopyRefused(`the control plane is running (pid ${pid}, ${join(o.dataDir, 'berth.pid')}): stop it first (kill ${pid}); apps keep running`);
  const t0 = performance.now();
  // Before the target is opened: opening runs Berth's migrations, which would create its tables there.
  await refuseForeignTarget(o.databaseUrl);
  let source: Store | undefined;
  let target: Store | undefined;
  try {
    source = await openStore({ dataDir: o.dataDir, databaseUrl: null });
    target = await openStore({ dataDir: o.dataDir, databaseUrl: o.databaseUrl });
    const tables = await copySqliteToPostgres(source.db, target.db, o.progress);
    return {
      tables,
      rows: Object.values(tables).reduce((a, b) => a + b, 0),
      seconds: Math.round((performance.now() - t0) / 100) / 10,
      target: redactUrl(o.databaseUrl),
    };
  } finally {
    await target?.close();
    await source?.close();
  }
}
