import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { run, runOk } from '../../src/lib/exec.js';
import { LABEL, ROOT, sleep, timeUntil, type Bench } from '../support/context.js';
import { addonContainer, addonUrl, answers, inContainer, load1, pgbackrestInfo, query, waitAddon } from '../support/pg-addon.js';
import { row, type Row } from '../support/report.js';
import { archiveFigures, WINDOW_S, WRITE_KBPS } from './pitr-archive.js';

/** The database's size in MB (BENCH_PITR_MB; 1024 for the figure, 100 for a quick run). */
const MB = Number(process.env.BENCH_PITR_MB ?? 1024);
/** Bytes per row of `big` on disk, heap and primary key together (measured: about 255). */
const ROW_BYTES = 255;
const PROJECT = 'bench';

const iso = (d = new Date()) => d.toISOString();

/**
 * Point-in-time recovery of a PostgreSQL add-on (issue 24). An add-on holding MB of rows (random
 * hex, primary key) is restored to a point in time through Berth's own path, `POST
 * /api/v1/addons/{id}/fork {"to"}` (what `berth addons restore DB --to ... --name` calls), timed
 * from that call until the fork answers a query: once with only the base backup taken when the
 * add-on was new (the whole load replayed from the WAL archive: a restore late in the day), once
 * after a base backup holding the data (the usual case). Baseline, same run: `pg_restore` of a
 * `pg_dump -Fc` of the same database into an empty server of the same image, already running.
 * Then the archive's lag and growth under writes (pitr-archive.ts). Everything is deleted at the
 * end, also on failure; a detailed JSON goes to bench/results/pitr-latest.json.
 */
export async function pitr(b: Bench): Promise<Row[]> {
  const { dev } = await b.shared();
  const name = `pitr${Date.now().toString(36)}`;
  const made = new Set<string>();
  const details: Record<string, unknown> = { mb: MB, windowS: WINDOW_S, writeKBps: WRITE_KBPS };
  const dir = await mkdtemp(join(tmpdir(), 'berth-bench-pitr-'));
  let baseCtr = '';
  let baseVol = '';
  try {
    const a = await dev.call('createAddon', { body: { type: 'postgres', name, project: PROJECT } });
    made.add(a.id);
    await waitAddon(dev, PROJECT, name, (x) => x.status === 'running' && x.pitr?.earliest != null && x.pitr?.verified != null, 'the add-on to run with its first base backup, checked');
    const ctr = await addonContainer(a.id);
    const url = await addonUrl(a.id);
    const image = (await runOk('docker', ['inspect', '-f', '{{.Config.Image}}', ctr], { timeoutMs: 20_000 })).stdout.trim();

    // The data: MB of rows in chunks of about 64 MB, one commit each (as a batch import would).
    const rows = Math.round((MB * 2 ** 20) / ROW_BYTES);
    const chunk = Math.round((64 * 2 ** 20) / ROW_BYTES);
    const tLoad = performance.now();
    await query(url, 'CREATE TABLE big (id bigint PRIMARY KEY, body text NOT NULL)');
    for (let from = 1; from <= rows; from += chunk) {
      const to = Math.min(rows, from + chunk - 1);
      await query(url, `INSERT INTO big SELECT g, md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) FROM generate_series($1::bigint, $2::bigint) g`, [from, to]);
    }
    const loadMs = performance.now() - tLoad;
    const dbBytes = Number((await query<{ n: string }>(url, 'SELECT pg_database_size(current_database()) AS n'))[0]!.n);
    const dbMB = (dbBytes / 2 ** 20).toFixed(0);
    await query(url, 'CREATE TABLE marks (note text PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())');
    // The archive catches up with the load first: a restore is to a time some minutes ago, not to the load's last second.
    await query(url, 'SELECT pg_switch_wal()');
    const tCatch = performance.now();
    await timeUntil(tCatch, async () => (await query<{ n: number }>(url, "SELECT count(*)::int AS n FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'"))[0]!.n === 0, 'the archive to catch up after the load', 1_800_000, 500);
    const catchUpMs = performance.now() - tCatch;
    details.load = { rows, dbBytes, loadMs, archiveCatchUpMs: catchUpMs, image };
    process.stderr.write(`  pitr: ${dbMB} MB loaded in ${(loadMs / 1000).toFixed(0)} s; archive caught up ${(catchUpMs / 1000).toFixed(0)} s later\n`);

    /** A row before the target and one after it; the fork must hold the first and not the second. */
    const forkAt = async (label: string) => {
      await query(url, 'INSERT INTO marks (note) VALUES ($1)', [`${label}-before`]);
      await sleep(1100);
      const target = iso();
      await sleep(1100);
      await query(url, 'INSERT INTO marks (note) VALUES ($1)', [`${label}-after`]);
      const load = load1();
      const calledAt = Date.now();
      const t = performance.now();
      const fork = await dev.call('forkAddon', { params: { id: a.id }, query: {}, body: { to: target, name: `${name}-${label}` } });
      made.add(fork.id);
      const done = await waitAddon(dev, PROJECT, fork.name, (x) => x.status === 'running', `the ${label} fork to run`);
      let furl = '';
      await timeUntil(t, async () => answers((furl ||= await addonUrl(fork.id))), `the ${label} fork to answer`, 600_000, 100);
      const ms = performance.now() - t;
      const marks = (await query<{ note: string }>(furl, 'SELECT note FROM marks ORDER BY note')).map((r) => r.note);
      const n = Number((await query<{ n: string }>(furl, 'SELECT count(*) AS n FROM big'))[0]!.n);
      if (n !== rows || !marks.includes(`${label}-before`) || marks.includes(`${label}-after`)) {
        throw new Error(`the ${label} fork to ${target} holds ${n} of ${rows} rows and marks ${marks.join(',')}`);
      }
      // Where the time went: the restore helper ends with the addon.restored event; the server starts after it.
      const events = (await dev.call('listEvents', { query: { limit: 1000 } })).items.filter((e) => e.data?.addon === fork.id).map((e) => ({ kind: e.kind, afterMs: Date.parse(e.created_at) - calledAt }));
      const restoredMs = events.find((e) => e.kind === 'addon.restored')?.afterMs ?? null;
      await dev.call('deleteAddon', { params: { id: fork.id }, query: {} });
      made.delete(fork.id);
      return { ms, restoredMs, events, target, recoveredTo: done.fork?.recovered_to ?? null, load };
    };

    // 1. From the base backup taken when the add-on was new: the whole load is replayed from the archive.
    const fromWal = await forkAt('wal');
    process.stderr.write(`  pitr: fork replaying the load from WAL: ${(fromWal.ms / 1000).toFixed(1)} s (restored after ${((fromWal.restoredMs ?? NaN) / 1000).toFixed(1)} s)\n`);

    // 2. A base backup holding the data, taken the way a user gets one: a backup schedule that fires now
    // (it also takes a scheduled pg_dump, as it would), then no schedule again.
    const fireAt = new Date(Date.now() + 8000);
    const cron = `${fireAt.getUTCSeconds()} ${fireAt.getUTCMinutes()} ${fireAt.getUTCHours()} * * *`;
    await dev.call('updateAddon', { params: { id: a.id }, query: {}, body: { backup_schedule: cron } });
    const based = await waitAddon(dev, PROJECT, name, (x) => x.pitr?.latest_base_backup != null && x.pitr.latest_base_backup > iso(fireAt) && x.pitr.verified?.base_at === x.pitr.latest_base_backup, 'a base backup holding the data, checked');
    await dev.call('updateAddon', { params: { id: a.id }, query: {}, body: { backup_schedule: null } });
    await timeUntil(performance.now(), async () => (await dev.call('listBackups', { params: { id: a.id } })).items.every((j) => j.status !== 'queued' && j.status !== 'running'), 'the scheduled dump to end', 1_800_000, 500);
    const base = (await pgbackrestInfo(ctr)).backups.at(-1);
    if (!base) throw new Error('pgbackrest info shows no base backup');
    details.baseBackup = { at: based.pitr?.latest_base_backup, seconds: base.stop - base.start, size: base.size, repoBytes: base.repo, verified: based.pitr?.verified };
    const fromBase = await forkAt('base');
    process.stderr.write(`  pitr: fork from a base backup holding the data: ${(fromBase.ms / 1000).toFixed(1)} s (restored after ${((fromBase.restoredMs ?? NaN) / 1000).toFixed(1)} s)\n`);
    details.forks = { fromWal, fromBase };

    // Baseline: pg_dump -Fc of the same database, pg_restore into an empty server of the same image.
    const conn = (user: string, db: string) => ['-h', '127.0.0.1', '-U', user, '-d', db];
    const tDump = performance.now();
    // Its own password from its own environment (not on a command line).
    await inContainer(ctr, ['sh', '-c', 'PGPASSWORD="$BERTH_ADDON_PASSWORD" pg_dump -Fc -h 127.0.0.1 -U "$BERTH_ADDON_USER" -d "$BERTH_ADDON_DB" -f /tmp/pitr-bench.dump'], 1_800_000);
    const dumpMs = performance.now() - tDump;
    await runOk('docker', ['cp', `${ctr}:/tmp/pitr-bench.dump`, join(dir, 'x.dump')], { timeoutMs: 600_000 });
    await inContainer(ctr, ['rm', '-f', '/tmp/pitr-bench.dump']);
    const dumpBytes = (await stat(join(dir, 'x.dump'))).size;
    const net = await b.baselineNetwork();
    // Its data on an engine volume like the add-on's (same disk), opened to the image's user as Berth does.
    baseVol = `pitrbench-${b.runId}`;
    await runOk('docker', ['volume', 'create', '--label', `${LABEL}=${b.runId}`, baseVol], { timeoutMs: 30_000 });
    await runOk('docker', ['run', '--rm', '--user', 'root', '--network', 'none', '-v', `${baseVol}:/data`, '--entrypoint', 'chmod', image, '1777', '/data'], { timeoutMs: 60_000 });
    baseCtr = (await runOk('docker', ['run', '-d', '--label', `${LABEL}=${b.runId}`, '--network', net, '-v', `${baseVol}:/data`, '-e', 'BERTH_ADDON_USER=berth', '-e', 'BERTH_ADDON_PASSWORD=bench', '-e', 'BERTH_ADDON_DB=berth', image], { timeoutMs: 60_000 })).stdout.trim();
    const baseUrl = `postgres://berth:bench@${await b.containerIp(baseCtr)}:5432/berth`;
    await timeUntil(performance.now(), () => answers(baseUrl), 'the baseline server to answer', 180_000, 100);
    await runOk('docker', ['cp', join(dir, 'x.dump'), `${baseCtr}:/tmp/x.dump`], { timeoutMs: 600_000 });
    await runOk('docker', ['exec', '-u', 'root', baseCtr, 'chmod', '0644', '/tmp/x.dump'], { timeoutMs: 30_000 });
    const baseLoad = load1();
    const tRestore = performance.now();
    await runOk('docker', ['exec', '-e', 'PGPASSWORD=bench', baseCtr, 'pg_restore', '--no-owner', ...conn('berth', 'berth'), '/tmp/x.dump'], { timeoutMs: 1_800_000 });
    const restoreMs = performance.now() - tRestore;
    const baseRows = Number((await query<{ n: string }>(baseUrl, 'SELECT count(*) AS n FROM big'))[0]!.n);
    if (baseRows !== rows) throw new Error(`the baseline restore holds ${baseRows} of ${rows} rows`);
    details.baseline = { dumpMs, dumpBytes, restoreMs, load: baseLoad };
    await run('docker', ['rm', '-f', baseCtr], { timeoutMs: 120_000 });
    await run('docker', ['volume', 'rm', baseVol], { timeoutMs: 60_000 });
    baseCtr = baseVol = '';

    const out: Row[] = [
      row({ group: 'pitr', figure: `restore of ${dbMB} MB to a time, replaying it from WAL`, unit: 's', berth: fromWal.ms / 1000, baseline: restoreMs / 1000, baselineName: 'pg_restore of a pg_dump -Fc into an empty server', better: 'lower', note: `fork call to first query (restore helper done at ${((fromWal.restoredMs ?? NaN) / 1000).toFixed(1)} s); base backup from before the load, archive caught up ${(catchUpMs / 1000).toFixed(0)} s after it; load ${fromWal.load.toFixed(2)} (baseline ${baseLoad.toFixed(2)})` }),
      row({ group: 'pitr', figure: `restore of ${dbMB} MB to a time, from a base backup holding it`, unit: 's', berth: fromBase.ms / 1000, baseline: restoreMs / 1000, baselineName: 'pg_restore of a pg_dump -Fc into an empty server', better: 'lower', note: `fork call to first query (restore helper done at ${((fromBase.restoredMs ?? NaN) / 1000).toFixed(1)} s); base backup ${(base.repo / 2 ** 20).toFixed(0)} MB in the repository, taken in ${base.stop - base.start} s; load ${fromBase.load.toFixed(2)}` }),
    ];
    process.stderr.write(`  pitr: baseline pg_restore ${(restoreMs / 1000).toFixed(1)} s; now ${WINDOW_S} s of writes at ${WRITE_KBPS} KB/s\n`);
    out.push(...(await archiveFigures(ctr, url, dumpBytes, details)));
    return out;
  } finally {
    if (baseCtr) await run('docker', ['rm', '-f', baseCtr], { timeoutMs: 120_000 });
    if (baseVol) await run('docker', ['volume', 'rm', baseVol], { timeoutMs: 60_000 });
    // Forks first (a source with forks may still be deleted, but the forks' restores read its archive).
    for (const id of [...made].reverse()) {
      await dev.call('deleteAddon', { params: { id }, query: {} }).catch((e) => console.error(`bench: deleting add-on ${id} failed: ${e}`));
    }
    await rm(dir, { recursive: true, force: true });
    const results = resolve(ROOT, 'bench/results');
    await mkdir(results, { recursive: true });
    await writeFile(join(results, 'pitr-latest.json'), JSON.stringify({ at: iso(), ...details }, null, 2) + '\n');
  }
}
