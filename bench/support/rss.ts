import { readFileSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { sleep } from './context.js';

/** VmRSS of a process, in MB, as the kernel reports it. */
export async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) / 1024;
}

/**
 * Resident memory once it has settled: sampled every 500 ms after `afterMs`, until three samples
 * in a row are within 1 MB of each other (or 20 s pass); the last sample. The default wait is what
 * "idle" means on a server nobody is calling: V8 shrinks its heap some seconds after start-up work
 * ends (its memory reducer), and a sample taken before that measures start-up, not idle.
 */
export async function settledRssMb(pid: number, afterMs = 20_000): Promise<number> {
  await sleep(afterMs);
  const samples: number[] = [];
  const deadline = Date.now() + 20_000;
  for (;;) {
    samples.push(await rssMb(pid));
    const last = samples.slice(-3);
    if (last.length === 3 && Math.max(...last) - Math.min(...last) < 1) return last[2];
    if (Date.now() > deadline) return samples.at(-1)!;
    await sleep(500);
  }
}

/** A process and its direct children (HAProxy's master and workers; nginx's). */
function tree(pid: number): number[] {
  const pids = [pid];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) pids.push(Number(d));
    } catch {
      /* gone meanwhile */
    }
  }
  return pids;
}

/** RSS of a process and its direct children, in MB. */
export async function treeRssMb(pid: number): Promise<number> {
  let total = 0;
  for (const p of tree(pid)) total += await rssMb(p).catch(() => 0);
  return total;
}

/**
 * CPU time (user + system, ms) a process and its direct children have used so far. Divided by the
 * requests a load sent through it, the proxy's cost per request: on a busy shared machine it moves
 * far less than throughput does, which depends on what else holds the cores.
 */
export function treeCpuMs(pid: number): number {
  let total = 0;
  for (const p of tree(pid)) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(f[11]) + Number(f[12])) * 10; // utime + stime, in ticks of 10 ms (USER_HZ 100)
    } catch {
      /* gone meanwhile */
    }
  }
  return total;
}
