import type { StatsJson } from './engine-api.js';
import type { ContainerStats } from './types.js';

const round1 = (n: number) => Math.round(n * 10) / 10;

/**
 * CPU and memory the way `docker stats` computes them: CPU is the container's share of the host's
 * CPU time between the engine's two samples, times the online cores; memory leaves out inactive
 * page cache (cgroup v1 `total_inactive_file`, v2 `inactive_file`). Null for a container that is
 * not running (the engine answers zeros and no read time).
 */
export function toContainerStats(s: StatsJson): ContainerStats | null {
  if (!s.read || s.read.startsWith('0001-') || !s.memory_stats?.usage) return null;
  const cpu = s.cpu_stats;
  const pre = s.precpu_stats;
  const cpuDelta = (cpu?.cpu_usage?.total_usage ?? 0) - (pre?.cpu_usage?.total_usage ?? 0);
  const systemDelta = (cpu?.system_cpu_usage ?? 0) - (pre?.system_cpu_usage ?? 0);
  const cores = cpu?.online_cpus || cpu?.cpu_usage?.percpu_usage?.length || 1;
  // The first sample after a start has no previous one to compare with.
  const cpuPercent = pre?.system_cpu_usage && systemDelta > 0 && cpuDelta >= 0 ? (cpuDelta / systemDelta) * cores * 100 : 0;
  const stats = s.memory_stats.stats ?? {};
  const cache = stats.total_inactive_file ?? stats.inactive_file ?? 0;
  const used = Math.max(0, s.memory_stats.usage - (cache < s.memory_stats.usage ? cache : 0));
  return { cpuPercent: round1(cpuPercent), memoryMb: round1(used / (1024 * 1024)) };
}
