import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';

export interface Row {
  /** Which group of figures: router, deploy, build, scale, zero-downtime, control-plane. */
  group: string;
  figure: string;
  unit: string;
  berth: number;
  baseline: number;
  /** What the baseline is, in a few words. */
  baselineName: string;
  /** berth / baseline. */
  ratio: number;
  /** Whether a higher value is better (requests/s) or a lower one (seconds, ms, MB, failures). */
  better: 'higher' | 'lower';
  note?: string;
}

export function row(r: Omit<Row, 'ratio'>): Row {
  return { ...r, ratio: r.baseline === 0 ? (r.berth === 0 ? 1 : Infinity) : r.berth / r.baseline };
}

const fmt = (n: number) =>
  !Number.isFinite(n) ? String(n) : Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2);

export function table(rows: Row[]): string {
  const head = ['figure', 'unit', 'Berth', 'baseline', 'ratio', 'baseline is'];
  const body = rows.map((r) => [r.figure, r.unit, fmt(r.berth), fmt(r.baseline), `${fmt(r.ratio)}x`, r.baselineName]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i >= 2 && i <= 4 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/** The same table in Markdown, for docs/performance.md. */
export function markdown(rows: Row[]): string {
  const lines = ['| figure | unit | Berth | baseline | ratio | baseline is |', '|---|---|---:|---:|---:|---|'];
  for (const r of rows) lines.push(`| ${r.figure} | ${r.unit} | ${fmt(r.berth)} | ${fmt(r.baseline)} | ${fmt(r.ratio)}x | ${r.baselineName} |`);
  return lines.join('\n');
}

export function machine() {
  return { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
}

/** Writes bench/results/latest.json and a dated copy; returns the paths. */
export async function writeResults(dir: string, data: { startedAt: string; figures: string[]; rows: Row[]; errors: Record<string, string>; notes: string[] }) {
  await mkdir(dir, { recursive: true });
  const doc = JSON.stringify({ ...data, machine: machine(), markdown: markdown(data.rows) }, null, 2) + '\n';
  const dated = join(dir, `${data.startedAt.replace(/[:.]/g, '-')}.json`);
  await writeFile(join(dir, 'latest.json'), doc);
  await writeFile(dated, doc);
  return [join(dir, 'latest.json'), dated];
}
