import pg from 'pg';
import { run, runOk } from '../../src/lib/exec.js';
import { LABEL, timeJob, timeUntil, type Bench } from '../support/context.js';
import { row, type Row } from '../support/report.js';

const IMAGE = process.env.BERTH_ADDON_POSTGRES_IMAGE ?? 'berth/addon-postgres:15';
/** Rows of about 330 bytes: roughly 100 MB of table. */
const ROWS = 300_000;

async function canQuery(url: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

const envOf = async (id: string) =>
  Object.fromEntries(
    (JSON.parse((await runOk('docker', ['inspect', id], { timeoutMs: 20_000 })).stdout)[0].Config.Env as string[]).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]),
  );

/**
 * PostgreSQL add-on figures. Time to a usable database (create call → first successful query from
 * the host to its project-network address) against `docker run -d` of the same image with its
 * data on a tmpfs (the same initdb and start, no Berth). Backup and restore of a ~100 MB database
 * through Berth (helper container, copy out of or into it, rows and files) against the same
 * `pg_dump -Fc` / `pg_restore` run with `docker exec` inside the add-on's own container.
 */
export async function addons(b: Bench): Promise<Row[]> {
  const { dev } = await b.shared();
  const name = `pg${Date.now().toString(36)}`;
  const t0 = performance.now();
  const made = await dev.call('createAddon', { body: { type: 'postgres', name, project: 'bench' } });
  let url = '';
  const berthReady = await timeUntil(t0, async () => {
    const ctr = (await run('docker', ['ps', '-q', '--filter', `label=berth.addon=${made.id}`], { timeoutMs: 10_000 })).stdout.trim();
    if (!ctr) return false;
    if (!url) {
      const env = await envOf(ctr);
      const ip = (await runOk('docker', ['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', ctr], { timeoutMs: 10_000 })).stdout.trim();
      if (!ip) return false;
      url = `postgres://${env.BERTH_ADDON_USER}:${encodeURIComponent(env.BERTH_ADDON_PASSWORD)}@${ip}:5432/${env.BERTH_ADDON_DB}`;
    }
    return canQuery(url);
  }, 'the add-on to answer a query', 180_000, 100);

  const net = await b.baselineNetwork();
  const t1 = performance.now();
  const base = (
    await runOk('docker', ['run', '-d', '--label', `${LABEL}=${b.runId}`, '--network', net, '--tmpfs', '/data:mode=1777', '-e', 'BERTH_ADDON_USER=berth', '-e', 'BERTH_ADDON_PASSWORD=bench', '-e', 'BERTH_ADDON_DB=berth', IMAGE], { timeoutMs: 60_000 })
  ).stdout.trim();
  const baseIp = await b.containerIp(base);
  const baseReady = await timeUntil(t1, () => canQuery(`postgres://berth:bench@${baseIp}:5432/berth`), 'the baseline server to answer', 180_000, 100);

  // ~100 MB of rows, then Berth's backup and restore of them, then the same tools by hand.
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query(`CREATE TABLE big AS SELECT g AS id, repeat(md5(g::text), 10) AS body FROM generate_series(1, ${ROWS}) g`);
  const size = Number((await c.query('SELECT pg_database_size(current_database()) AS n')).rows[0].n);
  await c.end();

  const job = (queue: () => Promise<{ id: string }>) => timeJob(queue, async (id) => (await dev.call('getAddonJob', { params: { id: made.id, job: id } })).status);
  const backup = await job(() => dev.call('createBackup', { params: { id: made.id } }));
  const restore = await job(() => dev.call('restoreBackup', { params: { id: made.id }, body: { backup: backup.id } }));

  const ctr = (await run('docker', ['ps', '-q', '--filter', `label=berth.addon=${made.id}`], { timeoutMs: 10_000 })).stdout.trim();
  const env = await envOf(ctr);
  const exec = async (...cmd: string[]) => {
    const t = performance.now();
    await runOk('docker', ['exec', '-e', `PGPASSWORD=${env.BERTH_ADDON_PASSWORD}`, ctr, ...cmd], { timeoutMs: 600_000 });
    return performance.now() - t;
  };
  const conn = ['-h', '127.0.0.1', '-U', env.BERTH_ADDON_USER!, '-d', env.BERTH_ADDON_DB!];
  const dumpMs = await exec('pg_dump', '-Fc', ...conn, '-f', '/tmp/bench.dump');
  const restoreMs = await exec('pg_restore', '--clean', '--if-exists', '--no-owner', '--single-transaction', ...conn, '/tmp/bench.dump');
  await exec('rm', '-f', '/tmp/bench.dump');
  await dev.call('deleteAddon', { params: { id: made.id }, query: {} });

  const mb = (size / 1024 / 1024).toFixed(0);
  return [
    row({ group: 'add-ons', figure: 'postgres: create to first query', unit: 's', berth: berthReady / 1000, baseline: baseReady / 1000, baselineName: 'docker run (tmpfs) + poll', better: 'lower', note: 'one trial each' }),
    row({ group: 'add-ons', figure: `postgres: backup of ${mb} MB`, unit: 's', berth: backup.ms / 1000, baseline: dumpMs / 1000, baselineName: 'docker exec pg_dump -Fc', better: 'lower', note: `dump of ${mb} MB database` }),
    row({ group: 'add-ons', figure: `postgres: restore of ${mb} MB`, unit: 's', berth: restore.ms / 1000, baseline: restoreMs / 1000, baselineName: 'docker exec pg_restore', better: 'lower', note: 'same dump, --clean --single-transaction' }),
  ];
}
