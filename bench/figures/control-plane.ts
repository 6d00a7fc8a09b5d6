import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Engine, TestServer } from '../../test/support/server.js';
import { ROOT, type Bench } from '../support/context.js';
import { compare } from '../support/load.js';
import { row, type Row } from '../support/report.js';
import { rssMb, settledRssMb, treeRssMb } from '../support/rss.js';

const APPS = 1000;
const LOAD = { concurrency: 8, warmupMs: 500, maxRequests: 100_000 };

/**
 * Idle resident memory of the control-plane process (the router, HAProxy, is a separate process and not counted),
 * against a bare Fastify process; and `GET /api/v1/apps` (the default page of 100 of 1,000 apps)
 * against `GET /healthz` on the same server: same process, framework, request logging and one
 * database round trip, so the ratio is the price of authentication, the list query and its JSON.
 */
export async function controlPlane(b: Bench): Promise<Row[]> {
  const floor = await bareFastifyRss();
  const rows: Row[] = [];
  for (const engine of (process.env.BENCH_ENGINES?.split(',') ?? ['sqlite', 'postgres']) as Engine[]) {
    // A thousand apps in one project: above the default quota of 50, which an operator raises the same way.
    const s = await b.startServer(engine, { BERTH_QUOTA_APPS_PER_PROJECT: String(APPS) });
    const idle = await settledRssMb(s.pid!);
    const router = await routerRss(s);
    rows.push(
      row({
        group: 'control-plane',
        figure: `idle memory (${engine})`,
        unit: 'MB',
        berth: idle,
        baseline: floor,
        baselineName: 'bare Fastify hello process',
        better: 'lower',
        note: `goal < 120 MB; the router (HAProxy master and worker, separate processes) holds ${router.toFixed(0)} MB more`,
      }),
    );
    try {
      rows.push(...(await listApps(s, engine)));
    } catch (err) {
      // Say why: a server that died (as on a PostgreSQL restart) leaves its last words here.
      const gone = s.pid === undefined ? 'the server process exited; its last output:\n' + s.output().split('\n').slice(-15).join('\n') : '';
      throw new Error(`${(err as Error).message} (${engine}) ${gone}`, { cause: err });
    }
  }
  return rows;
}

async function listApps(s: TestServer, engine: Engine): Promise<Row[]> {
  const dev = await s.newUser('lister');
  await dev.call('createProject', { body: { name: 'many' } });
  let next = 0;
  const worker = async () => {
    while (next < APPS) {
      const i = next++;
      await dev.call('createApp', { body: { name: `app-${String(i).padStart(4, '0')}`, project: 'many' } });
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: 8 }, worker));
  const createS = (performance.now() - t0) / 1000;
  const page = await dev.call('listApps', {});
  if (page.total !== APPS) throw new Error(`expected ${APPS} apps, the list says ${page.total}`);

  // The control plane writes for a while after 1,000 new apps (a certificate per app's host, issued
  // by the leader): every write rightly empties the read cache, so the list is measured once it is quiet.
  const quietS = await quiet(s, engine);

  const port = Number(new URL(s.url).port);
  const auth = { authorization: `Bearer ${dev.opts.token}` };
  const [list, health] = await compare(
    { ...LOAD, targets: [{ address: '127.0.0.1', port, path: '/api/v1/apps', headers: auth }] },
    { ...LOAD, targets: [{ address: '127.0.0.1', port, path: '/healthz' }] },
    4,
    2500,
  );
  for (const [what, st] of [['list', list], ['healthz', health]] as const) {
    if (st.errors || st.non2xx || !st.requests) {
      const logged = s.output().split('\n').filter((l) => /"level":(50|60)/.test(l)).slice(0, 3).join('\n');
      throw new Error(`${what} on ${engine}: ${st.errors} errors, ${st.non2xx} not 2xx of ${st.requests} (${st.firstError}); the server logged:\n${logged}`);
    }
  }
  const rss = await rssMb(s.pid!);
  const baselineName = 'GET /healthz, same server';
  const note = `${APPS} apps (created in ${createS.toFixed(1)} s, no write for 3 s after ${quietS}), page of ${page.items.length}; concurrency ${LOAD.concurrency}; RSS after: ${rss.toFixed(0)} MB`;
  return [
    row({ group: 'control-plane', figure: `GET /api/v1/apps (${engine}): throughput`, unit: 'req/s', berth: list.rps, baseline: health.rps, baselineName, better: 'higher', note }),
    row({ group: 'control-plane', figure: `GET /api/v1/apps (${engine}): p99 latency`, unit: 'ms', berth: list.p99Ms, baseline: health.p99Ms, baselineName, better: 'lower', note }),
  ];
}

/** Waits until the database has taken no write for 3 s (at most 5 min); says how long that took. */
async function quiet(s: TestServer, engine: Engine): Promise<string> {
  let close: () => Promise<void>;
  let version: () => Promise<string>;
  if (engine === 'postgres') {
    const { default: pg } = await import('pg');
    const c = new pg.Client({ connectionString: s.env.DATABASE_URL });
    await c.connect();
    close = () => c.end();
    version = async () => String((await c.query('select sum(n) as n from write_generation')).rows[0].n);
  } else {
    const { default: SQLite } = await import('better-sqlite3');
    const db = new SQLite(join(s.dataDir, 'berth.db'), { readonly: true });
    close = async () => void db.close();
    // Moves when another connection commits.
    version = async () => String(db.pragma('data_version', { simple: true }));
  }
  const t0 = performance.now();
  try {
    let last = await version();
    let since = performance.now();
    while (performance.now() - since < 3000) {
      if (performance.now() - t0 > 300_000) return 'not quiet after 300 s';
      await new Promise((r) => setTimeout(r, 250));
      const v = await version();
      if (v !== last) [last, since] = [v, performance.now()];
    }
    return `${((since - t0) / 1000).toFixed(0)} s`;
  } finally {
    await close();
  }
}

async function routerRss(s: TestServer): Promise<number> {
  try {
    return await treeRssMb(Number(await readFile(join(s.dataDir, 'haproxy', 'haproxy.pid'), 'utf8')));
  } catch {
    return NaN;
  }
}

async function bareFastifyRss(): Promise<number> {
  const child = spawn(process.execPath, [join(ROOT, 'dist/bench/support/hello-fastify.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('bare Fastify did not start within 10 s')), 10_000);
      child.stdout!.on('data', (c: Buffer) => {
        if (String(c).includes('listening at')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => reject(new Error(`bare Fastify exited with ${code}`)));
    });
    return await settledRssMb(child.pid!);
  } finally {
    child.kill('SIGKILL');
  }
}
