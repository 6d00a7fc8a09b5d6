import { readFile } from 'node:fs/promises';
import type { ListeningSocket } from './types.js';

/** TCP state 0A is LISTEN in the kernel's /proc/net/tcp tables. */
const LISTEN = '0A';

/**
 * The listening sockets in one of the kernel's /proc/net/tcp or /proc/net/tcp6 tables. Addresses
 * are hex in host byte order, 32 bits at a time (little-endian on the machines Berth runs on).
 */
export function parseProcNet(text: string, family: 4 | 6): ListeningSocket[] {
  const out: ListeningSocket[] = [];
  for (const line of text.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 4 || cols[3] !== LISTEN) continue;
    const [hex, portHex] = cols[1]!.split(':');
    if (!hex || !portHex) continue;
    const address = family === 4 ? ipv4(hex) : ipv6(hex);
    if (address !== null) out.push({ address, port: parseInt(portHex, 16) });
  }
  return out;
}

function words(hex: string): number[][] {
  const bytes: number[][] = [];
  for (let i = 0; i < hex.length; i += 8) {
    const w = hex.slice(i, i + 8);
    bytes.push([6, 4, 2, 0].map((j) => parseInt(w.slice(j, j + 2), 16)));
  }
  return bytes;
}

function ipv4(hex: string): string | null {
  if (!/^[0-9A-Fa-f]{8}$/.test(hex)) return null;
  return words(hex)[0]!.join('.');
}

function ipv6(hex: string): string | null {
  if (!/^[0-9A-Fa-f]{32}$/.test(hex)) return null;
  const b = words(hex).flat();
  // An IPv4-mapped address (::ffff:a.b.c.d) is the IPv4 one.
  if (b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) return b.slice(12).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => ((b[2 * i]! << 8) | b[2 * i + 1]!).toString(16));
  if (groups.every((g) => g === '0')) return '::';
  if (groups.slice(0, 7).every((g) => g === '0') && groups[7] === '1') return '::1';
  return groups.join(':');
}

/**
 * The listening TCP sockets of a container, read from its first process's network namespace on
 * this host. Null unless the process is provably that container's (its cgroup names the id): with
 * an engine on another host the pid would name some other process here.
 */
export async function readListening(pid: number, containerId: string): Promise<ListeningSocket[] | null> {
  if (!Number.isInteger(pid) || pid <= 0 || !/^[0-9a-f]{64}$/.test(containerId)) return null;
  try {
    const cgroup = await readFile(`/proc/${pid}/cgroup`, 'utf8');
    if (!cgroup.includes(containerId)) return null;
    const [v4, v6] = await Promise.all([readFile(`/proc/${pid}/net/tcp`, 'utf8'), readFile(`/proc/${pid}/net/tcp6`, 'utf8').catch(() => '')]);
    return [...parseProcNet(v4, 4), ...parseProcNet(v6, 6)];
  } catch {
    return null;
  }
}
