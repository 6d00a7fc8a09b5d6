import { readFileSync } from 'node:fs';
import pg from 'pg';
import type { BerthClient } from '../../src/client/index.js';
import type { RouteOutput } from '../../src/api/contract/index.js';
import { run, runOk } from '../../src/lib/exec.js';
import { timeUntil } from './context.js';

/**
 * What the PostgreSQL add-on figures share: the add-on's server container, a connection URL from
 * the host (its project-network address, its own credentials), commands inside it, and the
 * machine's load to print beside each figure (2 shared cores: a figure means little without it).
 */

/** The running server container of an add-on ('' when none runs). */
export const addonContainer = async (addonId: string) =>
  (await run('docker', ['ps', '-q', '--filter', `label=berth.addon=${addonId}`], { timeoutMs: 30_000 })).stdout.trim();

async function envOf(id: string): Promise<Record<string, string>> {
  const env = JSON.parse((await runOk('docker', ['inspect', id], { timeoutMs: 20_000 })).stdout)[0].Config.Env as string[];
  return Object.fromEntries(env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
}

/** The URL of the add-on's server from the host, or '' while it has no container or address. */
export async function addonUrl(addonId: string): Promise<string> {
  const ctr = await addonContainer(addonId);
  if (!ctr) return '';
  const env = await envOf(ctr);
  const ip = (await runOk('docker', ['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', ctr], { timeoutMs: 10_000 })).stdout.trim();
  return ip ? `postgres://${env.BERTH_ADDON_USER}:${encodeURIComponent(env.BERTH_ADDON_PASSWORD ?? '')}@${ip}:5432/${env.BERTH_ADDON_DB}` : '';
}

/** One query on a fresh connection; its rows. */
export async function query<T = Record<string, unknown>>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await c.connect();
  try {
    return (await c.query(sql, params)).rows as T[];
  } finally {
    await c.end().catch(() => {});
  }
}

export async function answers(url: string, sql = 'SELECT 1'): Promise<boolean> {
  if (!url) return false;
  try {
    await query(url, sql);
    return true;
  } catch {
    return false;
  }
}

/** A command in a container (as its own user); its stdout, trimmed. */
export async function inContainer(ctr: string, args: string[], timeoutMs = 600_000): Promise<string> {
  return (await runOk('docker', ['exec', ctr, ...args], { timeoutMs })).stdout.trim();
}

/** The 1-minute load average, as `uptime` shows it. */
export const load1 = () => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);

/** The add-on by name in the project; throws when it failed. */
export type AddonView = RouteOutput<'getAddon'>;

export async function waitAddon(dev: BerthClient, project: string, name: string, ok: (a: AddonView) => boolean, what: string, timeoutMs = 1_800_000): Promise<AddonView> {
  let got: AddonView | undefined;
  await timeUntil(performance.now(), async () => {
    got = await dev.call('getAddon', { params: { id: name }, query: { project } });
    if (got.status === 'failed') throw new Error(`${name} failed: ${got.message}`);
    return ok(got);
  }, what, timeoutMs, 250);
  return got!;
}

/** An LSN (`16/B374D848`) as a byte position. */
export const lsnBytes = (lsn: string) => {
  const [hi, lo] = lsn.split('/');
  return BigInt(`0x${hi}`) * 2n ** 32n + BigInt(`0x${lo}`);
};

/** The byte position where a WAL segment (`000000010000000300000041`) ends; null for other files (.history, .partial). */
export function segmentEnd(name: string | null | undefined, segmentSize: number): bigint | null {
  const m = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$/.exec(name ?? '');
  if (!m) return null;
  return BigInt(`0x${m[2]}`) * 2n ** 32n + (BigInt(`0x${m[3]}`) + 1n) * BigInt(segmentSize);
}

export const percentile = (xs: number[], p: number) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};

/** A base backup as `pgbackrest info --output=json` describes it (the fields read here). */
interface InfoBackup {
  info: { size: number; repository: { size: number; delta: number } };
  timestamp: { start: number; stop: number };
}

/** pgBackRest's summary of an add-on's repository (stanza "berth"): its newest archived segment and its base backups. */
export async function pgbackrestInfo(ctr: string): Promise<{ archiveMax: string | null; backups: { size: number; repo: number; start: number; stop: number }[] }> {
  const doc = (JSON.parse(await inContainer(ctr, ['pgbackrest', '--stanza=berth', '--output=json', 'info'], 60_000)) as { archive?: { max?: string }[]; backup?: InfoBackup[] }[])[0];
  return {
    archiveMax: doc?.archive?.at(-1)?.max ?? null,
    backups: (doc?.backup ?? []).map((b) => ({ size: b.info.size, repo: b.info.repository.delta, start: b.timestamp.start, stop: b.timestamp.stop })),
  };
}
