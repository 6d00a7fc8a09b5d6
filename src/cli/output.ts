/** Output helpers: readable tables for people, `--json` for scripts, one clear line for errors. */

export type Row = Record<string, unknown>;

function cell(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export function table(rows: Row[], columns: [key: string, title: string][]): string {
  if (rows.length === 0) return '(none)';
  const cells = rows.map((r) => columns.map(([k]) => cell(r[k])));
  const widths = columns.map(([, t], i) => Math.max(t.length, ...cells.map((c) => c[i].length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd();
  return [line(columns.map(([, t]) => t.toUpperCase())), ...cells.map(line)].join('\n');
}

/** Key/value block for one resource. */
export function details(obj: Row, fields: [key: string, title: string][]): string {
  const w = Math.max(...fields.map(([, t]) => t.length));
  return fields.map(([k, t]) => `${`${t}:`.padEnd(w + 2)}${cell(obj[k])}`).join('\n');
}

export interface OutputOpts {
  json?: boolean;
}

/** Prints data as JSON with --json, otherwise the human rendering. */
export function emit(opts: OutputOpts, data: unknown, human: () => string) {
  process.stdout.write(opts.json ? `${JSON.stringify(data, null, 2)}\n` : `${human()}\n`);
}
