import { promises as fs } from 'node:fs';
import { isIPv4 } from 'node:net';
import { run, runOk } from '../lib/exec.js';

/** The engine network every build's namespace hangs off, and its bridge (a fixed name, so rules can match it). */
export const BUILD_NETWORK = 'berth-builds';
export const BUILD_BRIDGE = 'berth-build0';
/** Berth's own filter chain for traffic a build sends through the host (DOCKER-USER jumps to it). */
export const FENCE_CHAIN = 'BERTH-BUILDS';

/** Where a build may not go: private ranges (the host's other networks, every container), link-local (cloud metadata), shared address space. */
export const FENCED_RANGES = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16', '100.64.0.0/10'];

const T = 15_000;

/**
 * The build network's firewall, installed by Berth itself and idempotently:
 * - INPUT: nothing from the build bridge reaches the host (the control plane, the engine's TCP
 *   port if any, every gateway address: they are all the host's own addresses);
 * - DOCKER-USER → BERTH-BUILDS: what leaves through the host to a private or link-local range is
 *   refused, except the host's resolvers on port 53 (name resolution; this machine's resolver is
 *   a private address). Everything else (the package registries) is forwarded and NATed as usual.
 * REJECT rather than DROP: a refused connect fails at once instead of hanging a build until its
 * timeout. The chain is written in one iptables-restore transaction (no moment without rules);
 * the jumps are checked with -C and added only when missing, and removed by their exact spec.
 */
export function fenceRules(resolvers: string[]): string[] {
  const rules: string[] = [];
  for (const r of resolvers) {
    for (const proto of ['udp', 'tcp']) rules.push(`-A ${FENCE_CHAIN} -d ${r}/32 -p ${proto} -m ${proto} --dport 53 -j ACCEPT`);
  }
  for (const range of FENCED_RANGES) rules.push(`-A ${FENCE_CHAIN} -d ${range} -j REJECT --reject-with icmp-admin-prohibited`);
  return rules;
}

export const JUMPS: { chain: string; spec: string[] }[] = [
  { chain: 'INPUT', spec: ['-i', BUILD_BRIDGE, '-j', 'REJECT', '--reject-with', 'icmp-port-unreachable'] },
  { chain: 'DOCKER-USER', spec: ['-i', BUILD_BRIDGE, '-j', FENCE_CHAIN] },
];

/** The host's IPv4 resolvers, as the builder's RUN steps will be given them. */
export async function hostResolvers(path = '/etc/resolv.conf'): Promise<string[]> {
  const text = await fs.readFile(path, 'utf8').catch(() => '');
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*nameserver\s+(\S+)/gm)) if (isIPv4(m[1]!) && !m[1]!.startsWith('127.')) out.push(m[1]!);
  return [...new Set(out)];
}

export async function ensureFence(signal?: AbortSignal): Promise<void> {
  const want = fenceRules(await hostResolvers());
  const have = await run('iptables', ['-w', '-S', FENCE_CHAIN], { timeoutMs: T, signal });
  const current = have.code === 0 ? have.stdout.split('\n').filter((l) => l.startsWith('-A ')) : [];
  if (have.code !== 0 || current.join('\n') !== want.join('\n')) {
    // Declaring a user chain in a --noflush restore creates it or empties it, in the same commit as its new rules.
    const input = ['*filter', `:${FENCE_CHAIN} - [0:0]`, ...want, 'COMMIT', ''].join('\n');
    await runOk('iptables-restore', ['-w', '--noflush'], { timeoutMs: T, signal, input });
  }
  // The chain is in place before anything jumps to it; DOCKER-USER exists once the engine runs.
  for (const j of JUMPS) {
    const check = await run('iptables', ['-w', '-C', j.chain, ...j.spec], { timeoutMs: T, signal });
    if (check.code !== 0) await runOk('iptables', ['-w', '-I', j.chain, '1', ...j.spec], { timeoutMs: T, signal });
  }
}

/** Removes the jumps (every copy) and the chain, each by its exact spec. For operators and tests. */
export async function removeFence(): Promise<void> {
  for (const j of JUMPS) {
    while ((await run('iptables', ['-w', '-D', j.chain, ...j.spec], { timeoutMs: T })).code === 0) {
      /* a duplicate from a race between two starts goes too */
    }
  }
  await run('iptables', ['-w', '-F', FENCE_CHAIN], { timeoutMs: T });
  await run('iptables', ['-w', '-X', FENCE_CHAIN], { timeoutMs: T });
}
