import type { TrafficCounters } from '../types.js';

/** One row of `show stat` (CSV), by column name. */
export type StatRow = Record<string, string>;

export function parseStat(csv: string): StatRow[] {
  const lines = csv.split('\n').filter((l) => l.trim() !== '');
  const header = lines.shift();
  if (!header?.startsWith('# ')) return [];
  const cols = header.slice(2).split(',');
  return lines.map((l) => {
    const cells = l.split(',');
    return Object.fromEntries(cols.map((c, i) => [c, cells[i] ?? '']));
  });
}

const n = (v: string | undefined) => (v === undefined || v === '' ? 0 : Number(v) || 0);

/** Counters that only grow: a pool backend or slot taken by a new app or replica starts from these. */
const CUMULATIVE = ['stot', 'hrsp_1xx', 'hrsp_2xx', 'hrsp_3xx', 'hrsp_4xx', 'hrsp_5xx', 'hrsp_other'] as const;
export type Baseline = Record<string, number>;

export function baseline(row: StatRow | undefined): Baseline {
  return Object.fromEntries(CUMULATIVE.map((c) => [c, n(row?.[c])]));
}

/** HAProxy's counters of a backend or server row, in Berth's names, counted from `base`. */
export function counters(raw: StatRow, base: Baseline = {}): TrafficCounters {
  const row = { ...raw };
  for (const c of CUMULATIVE) row[c] = String(Math.max(0, n(raw[c]) - (base[c] ?? 0)));
  return {
    // Backends and servers count one session per HTTP request: their session rate is the request rate.
    reqRate: n(row.rate),
    requestsTotal: n(row.stot),
    responses: {
      '1xx': n(row.hrsp_1xx),
      '2xx': n(row.hrsp_2xx),
      '3xx': n(row.hrsp_3xx),
      '4xx': n(row.hrsp_4xx),
      '5xx': n(row.hrsp_5xx),
      other: n(row.hrsp_other),
    },
    currentSessions: n(row.scur),
    queueTimeMs: n(row.qtime),
    connectTimeMs: n(row.ctime),
    responseTimeMs: n(row.rtime),
    totalTimeMs: n(row.ttime),
  };
}
