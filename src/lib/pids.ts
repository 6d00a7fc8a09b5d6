import { readFileSync } from 'node:fs';

/** Alive and not a zombie (a zombie still answers kill 0 until its parent reaps it). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The argument vector of a live process (empty when it is gone): tells ours from a recycled pid. */
export function argvOf(pid: number): string[] {
  try {
    return isAlive(pid) ? readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean) : [];
  } catch {
    return [];
  }
}
