import pg from 'pg';
import { sleep, timeUntil } from '../support/context.js';
import { inContainer, load1, lsnBytes, percentile, pgbackrestInfo, query, segmentEnd } from '../support/pg-addon.js';
import { row, type Row } from '../support/report.js';

/** The write load's window and rate (BENCH_PITR_WINDOW_S, BENCH_PITR_WRITE_KBPS). */
export const WINDOW_S = Number(process.env.BENCH_PITR_WINDOW_S ?? 300);
export const WRITE_KBPS = Number(process.env.BENCH_PITR_WRITE_KBPS ?? 512);
const SAMPLE_MS = 2000;
/** pgBackRest's info costs a process start and a read of the repository: less often than the SQL sample. */
const INFO_EVERY = 5;

interface Sample {
  t: number;
  load1: number;
  /** WAL written but not in the archive yet: the current LSN past the end of the last archived segment (pg_stat_archiver). */
  lagBytes: number;
  /** Completed segments waiting for archive-push (.ready files). */
  ready: number;
  /** How long the oldest completed segment has waited for the archive; 0 when none waits. */
  lagS: number;
  /** The same byte lag, from pgBackRest's own view of its archive (its newest segment), every INFO_EVERY samples. */
  pgbackrestLagBytes?: number;
}

const SAMPLE_SQL = `SELECT pg_current_wal_lsn()::text AS lsn, a.last_archived_wal AS last, a.failed_count::int AS failed,
  (SELECT count(*)::int FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready') AS ready,
  coalesce((SELECT extract(epoch FROM now() - min(modification)) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'), 0)::float8 AS oldest
  FROM pg_stat_archiver a`;

const duBytes = async (ctr: string, path: string) => Number((await inContainer(ctr, ['du', '-sb', path], 120_000)).split(/\s/)[0]);

/** Waits until no completed segment waits for the archive; the ms it took. */
async function caughtUp(url: string): Promise<number> {
  return timeUntil(performance.now(), async () => (await query<{ ready: number }>(url, SAMPLE_SQL))[0]!.ready === 0, 'the WAL archive to catch up', 1_800_000, 500);
}

/**
 * WAL archive lag under a steady insert load and the archive's growth, on the add-on `ctr`/`url`
 * (its database as figure 1 left it). First an idle window (the baseline of the lag: the same
 * add-on, no writes), then WINDOW_S seconds of inserts at WRITE_KBPS of row data (1 KB rows of
 * random hex, a commit every 200 ms), sampled every 2 s. The archive's size per day is the newest
 * base backup plus the WAL archived in the window scaled to 24 h: an extrapolation, labelled so.
 * Its baseline is one `pg_dump -Fc` a day of the same database (`dumpBytes`, what nightly dumps keep).
 */
export async function archiveFigures(ctr: string, url: string, dumpBytes: number, details: Record<string, unknown>): Promise<Row[]> {
  /** Set when the write window ends (or its writer failed): sampling stops too. */
  let stop = false;
  const segSize = Number((await query<{ s: string }>(url, "SELECT setting AS s FROM pg_settings WHERE name = 'wal_segment_size'"))[0]!.s);
  const sample = async (withInfo: boolean, t0: number): Promise<Sample> => {
    const r = (await query<{ lsn: string; last: string | null; ready: number; oldest: number }>(url, SAMPLE_SQL))[0]!;
    const now = lsnBytes(r.lsn);
    const end = segmentEnd(r.last, segSize);
    const s: Sample = { t: (performance.now() - t0) / 1000, load1: load1(), lagBytes: end === null ? NaN : Math.max(0, Number(now - end)), ready: r.ready, lagS: r.ready ? r.oldest : 0 };
    if (withInfo) {
      const max = segmentEnd((await pgbackrestInfo(ctr)).archiveMax, segSize);
      if (max !== null) s.pgbackrestLagBytes = Math.max(0, Number(now - max));
    }
    return s;
  };
  const sampling = async (ms: number, t0: number, out: Sample[]) => {
    for (let i = 0; performance.now() - t0 < ms && !stop; i++) {
      const next = performance.now() + SAMPLE_MS;
      out.push(await sample(i % INFO_EVERY === 0, t0));
      await sleep(Math.max(0, next - performance.now()));
    }
  };

  const idle: Sample[] = [];
  await sampling(20_000, performance.now(), idle);

  await query(url, 'CREATE TABLE IF NOT EXISTS w (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp(), body text NOT NULL)');
  await query(url, 'SELECT pg_switch_wal()');
  await caughtUp(url);
  const archiveBefore = await duBytes(ctr, '/archive/pgbackrest/archive');
  const lsnBefore = lsnBytes((await query<{ l: string }>(url, 'SELECT pg_current_wal_lsn()::text AS l'))[0]!.l);

  // The writer: every 200 ms, as many 1 KB rows as keep it at WRITE_KBPS since it began; behind, it catches up.
  const writer = new pg.Client({ connectionString: url });
  await writer.connect();
  const t0 = performance.now();
  let rowsWritten = 0;
  let writeError: unknown;
  // A failed insert ends the window (and is thrown below), rather than going unhandled.
  const writing = (async () => {
    while (!stop) {
      const due = Math.floor((((performance.now() - t0) / 1000) * WRITE_KBPS)) - rowsWritten;
      if (due > 0) {
        const n = Math.min(due, 2000);
        await writer.query("INSERT INTO w (body) SELECT (SELECT string_agg(md5(random()::text || i || g), '') FROM generate_series(1, 32) i) FROM generate_series(1, $1) g", [n]);
        rowsWritten += n;
      }
      await sleep(200);
    }
  })().catch((err: unknown) => {
    writeError = err;
    stop = true;
  });
  const busy: Sample[] = [];
  try {
    await sampling(WINDOW_S * 1000, t0, busy);
  } finally {
    stop = true;
    await writing;
    await writer.end().catch(() => {});
  }
  if (writeError) throw writeError;
  const windowS = (performance.now() - t0) / 1000;
  const lsnAfter = lsnBytes((await query<{ l: string }>(url, 'SELECT pg_current_wal_lsn()::text AS l'))[0]!.l);
  // The window's last partial segment closed, then everything archived: the archive's growth is the window's WAL.
  await query(url, 'SELECT pg_switch_wal()');
  const catchUpMs = await caughtUp(url);
  const archiveAfter = await duBytes(ctr, '/archive/pgbackrest/archive');
  const newest = (await pgbackrestInfo(ctr)).backups.at(-1);

  const kbps = (rowsWritten * 1024) / 1024 / windowS;
  const walBytes = Number(lsnAfter - lsnBefore);
  const archivedBytes = archiveAfter - archiveBefore;
  const perDay = 86_400 / windowS;
  const baseBytes = newest?.repo ?? NaN;
  const dayBytes = baseBytes + archivedBytes * perDay;
  const mb = (n: number) => n / 2 ** 20;
  const lagB = busy.map((s) => s.lagBytes).filter(Number.isFinite);
  const lagS = busy.map((s) => s.lagS);
  const idleB = idle.map((s) => s.lagBytes).filter(Number.isFinite);
  const idleS = idle.map((s) => s.lagS);
  const bgr = busy.map((s) => s.pgbackrestLagBytes).filter((x): x is number => x !== undefined);
  const loadNote = `load ${percentile(busy.map((s) => s.load1), 50).toFixed(2)} (p50 of 1-min load over the window)`;
  const rate = `${kbps.toFixed(0)} KB/s of 1 KB rows for ${windowS.toFixed(0)} s`;

  Object.assign(details, {
    archive: {
      windowS, writeKBps: kbps, targetKBps: WRITE_KBPS, rowsWritten, walBytes, archivedBytes, archiveBefore, archiveAfter, catchUpMs, baseBackup: newest ?? null,
      dumpBytes, perDayExtrapolated: { baseBytes, walArchivedBytes: archivedBytes * perDay, totalBytes: dayBytes, rowDataBytes: rowsWritten * 1024 * perDay },
      idle, busy, segmentSize: segSize,
    },
  });
  return [
    row({ group: 'pitr', figure: 'WAL archive lag under writes, p50', unit: 'MB', berth: mb(percentile(lagB, 50)), baseline: mb(percentile(idleB, 50)), baselineName: 'same add-on idle (20 s)', better: 'lower', note: `${rate}; ${loadNote}` }),
    row({ group: 'pitr', figure: 'WAL archive lag under writes, max', unit: 'MB', berth: mb(Math.max(...lagB)), baseline: mb(Math.max(...idleB)), baselineName: 'same add-on idle (20 s)', better: 'lower', note: `pgBackRest's info agrees: its max ${mb(Math.max(0, ...bgr)).toFixed(1)} MB behind` }),
    row({ group: 'pitr', figure: 'WAL archive backlog (oldest ready segment), p50', unit: 's', berth: percentile(lagS, 50), baseline: percentile(idleS, 50), baselineName: 'same add-on idle (20 s)', better: 'lower', note: `max ${Math.max(...lagS).toFixed(1)} s, up to ${Math.max(...busy.map((s) => s.ready))} segments waiting; caught up ${(catchUpMs / 1000).toFixed(1)} s after the writes stopped` }),
    row({ group: 'pitr', figure: 'WAL archive backlog (oldest ready segment), max', unit: 's', berth: Math.max(...lagS), baseline: Math.max(...idleS), baselineName: 'same add-on idle (20 s)', better: 'lower', note: loadNote }),
    row({ group: 'pitr', figure: `archive per day at ${kbps.toFixed(0)} KB/s (EXTRAPOLATED from ${windowS.toFixed(0)} s)`, unit: 'GB', berth: dayBytes / 2 ** 30, baseline: dumpBytes / 2 ** 30, baselineName: 'one pg_dump -Fc a day', better: 'lower', note: `base backup ${mb(baseBytes).toFixed(0)} MB + WAL ${mb(archivedBytes).toFixed(0)} MB archived (gz) of ${mb(walBytes).toFixed(0)} MB written in the window, x${perDay.toFixed(0)}; ${loadNote}` }),
  ];
}
