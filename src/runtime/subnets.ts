/**
 * IPv4 subnet picking for project networks once the engine's default address pools run out
 * (stock dockerd has room for about 30 user networks; Berth makes one per project).
 */

interface Range {
  start: number;
  end: number;
}

export function parseCidr(cidr: string): Range | null {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr.trim());
  if (!m) return null;
  const octets = m.slice(1, 5).map(Number);
  const bits = Number(m[5]);
  if (octets.some((o) => o > 255) || bits > 32) return null;
  const ip = ((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) >>> 0;
  const size = 2 ** (32 - bits);
  const start = ip - (ip % size);
  return { start, end: start + size - 1 };
}

function format(n: number, bits: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}/${bits}`;
}

/**
 * A /`bits` subnet of `pool` that overlaps none of `used` (CIDRs; non-IPv4 ones are ignored), or null.
 * With `pick` it chooses among the free ones (callers pass a random pick so that creators racing
 * each other rarely choose the same subnet); by default the first.
 */
export function freeSubnet(pool: string, used: string[], bits = 24, pick: (n: number) => number = () => 0): string | null {
  const range = parseCidr(pool);
  if (!range) throw new Error(`bad subnet pool ${pool}`);
  const taken = used.map(parseCidr).filter((r): r is Range => r !== null);
  const size = 2 ** (32 - bits);
  const free: number[] = [];
  for (let start = range.start; start + size - 1 <= range.end; start += size) {
    const end = start + size - 1;
    if (!taken.some((t) => t.start <= end && start <= t.end)) free.push(start);
  }
  return free.length ? format(free[pick(free.length)], bits) : null;
}
