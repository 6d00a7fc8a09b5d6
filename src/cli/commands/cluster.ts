import type { Command } from 'commander';
import { client, globals } from '../session.js';
import { details, emit, table } from '../output.js';
import type { RouteOutput } from '../../api/contract/index.js';

const GIB = 1024 ** 3;
const gib = (bytes: number) => `${(bytes / GIB).toFixed(1)} GiB`;

/** `key=value` pairs; a key given twice keeps its last value. */
function parseLabels(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const i = p.indexOf('=');
    if (i <= 0) throw new Error(`label "${p}" must be key=value`);
    out[p.slice(0, i)] = p.slice(i + 1);
  }
  return out;
}

/** What a drain is doing: Berth moves the node's replicas first (availability `draining`), Swarm's drain follows. */
function drainSaid(n: RouteOutput<'drainNode'>): string {
  if (n.availability === 'drain') return `Node ${n.hostname} is drained: no replica runs or starts there.`;
  const left = n.replicas.filter((r) => r.app_slug).length;
  return `Node ${n.hostname} is draining: it takes no new replicas, and its ${left} replica(s) of Berth's apps move to other nodes one at a time (each new one serving before the old one stops). It shows \`drain\` once none is left (berth nodes info ${n.hostname}).`;
}

export function registerCluster(program: Command) {
  const cluster = program.command('cluster').description('cluster mode on Docker Swarm (admin)');
  cluster
    .command('init')
    .description("make the control plane's engine a Swarm manager")
    .option('--advertise-addr <addr>', 'the address other nodes reach this one at (default: chosen by the engine)')
    .action(async (opts: { advertiseAddr?: string }, cmd: Command) => {
      const c = await client(cmd).call('initCluster', { body: opts.advertiseAddr ? { advertise_addr: opts.advertiseAddr } : {} });
      emit(globals(cmd), c, () => `Cluster mode is ${c.status} (node ${c.node_id ?? '-'}). Add servers with: berth cluster join-command`);
    });
  cluster
    .command('status')
    .description('whether cluster mode is on')
    .action(async (_o, cmd: Command) => {
      const c = await client(cmd).call('getCluster', {});
      emit(globals(cmd), c, () => details(c, [['status', 'Status'], ['enabled', 'Allowed (BERTH_CLUSTER)'], ['node_id', 'Node'], ['advertise_addr', 'Advertise address'], ['message', 'Message']]));
    });
  cluster
    .command('join-command')
    .description('print the command to run on a new server to join it')
    .option('--manager', 'join as a manager instead of a worker')
    .action(async (opts: { manager?: boolean }, cmd: Command) => {
      const j = await client(cmd).call('getJoinCommand', { query: opts.manager ? { role: 'manager' } : {} });
      emit(globals(cmd), j, () => j.command);
    });

  const nodes = program.command('nodes').description('cluster nodes (admin)');
  nodes
    .command('ls', { isDefault: true })
    .description('list nodes')
    .action(async (_o, cmd: Command) => {
      const res = await client(cmd).call('listNodes', {});
      const rows = res.items.map((n) => ({
        ...n,
        role: n.leader ? 'manager (leader)' : n.role,
        cpus: `${n.allocated.cpus}/${n.capacity.cpus}`,
        memory: `${gib(n.allocated.memory_bytes)}/${gib(n.capacity.memory_bytes)}`,
        count: n.replicas.length,
      }));
      emit(globals(cmd), res.items, () =>
        table(rows, [['id', 'Id'], ['hostname', 'Hostname'], ['role', 'Role'], ['state', 'State'], ['availability', 'Availability'], ['cpus', 'CPUs'], ['memory', 'Memory'], ['count', 'Replicas'], ['engine_version', 'Engine']]),
      );
    });
  nodes
    .command('info <node>')
    .description('one node, by id or hostname')
    .action(async (node: string, _o, cmd: Command) => {
      const n = await client(cmd).call('getNode', { params: { id: node } });
      emit(globals(cmd), n, () =>
        details({ ...n, addresses: n.addresses.join(', '), replicas: n.replicas.map((r) => `${r.app_slug ?? r.app ?? r.service_id}${r.release === null ? '' : ` v${r.release}`} (${r.status ?? r.state})`).join(', ') }, [
          ['id', 'Id'], ['hostname', 'Hostname'], ['addresses', 'Addresses'], ['role', 'Role'], ['state', 'State'], ['availability', 'Availability'],
          ['engine_version', 'Engine'], ['labels', 'Labels'], ['capacity', 'Capacity'], ['allocated', 'Allocated'], ['replicas', 'Replicas'],
        ]),
      );
    });
  nodes
    .command('drain <node>')
    .description('move replicas off a node and keep new ones away')
    .action(async (node: string, _o, cmd: Command) => {
      const n = await client(cmd).call('drainNode', { params: { id: node } });
      emit(globals(cmd), n, () => drainSaid(n));
    });
  nodes
    .command('activate <node>')
    .description('let a node take replicas again')
    .action(async (node: string, _o, cmd: Command) => {
      const n = await client(cmd).call('activateNode', { params: { id: node } });
      emit(globals(cmd), n, () => `Node ${n.hostname} is active: it takes replicas again.`);
    });
  nodes
    .command('label <node> <pairs...>')
    .description("set a node's labels (key=value ...; replaces them all)")
    .action(async (node: string, pairs: string[], _o, cmd: Command) => {
      const n = await client(cmd).call('setNodeLabels', { params: { id: node }, body: { labels: parseLabels(pairs) } });
      emit(globals(cmd), n, () => `Node ${n.hostname} labels: ${Object.entries(n.labels).map(([k, v]) => `${k}=${v}`).join(' ') || '(none)'}`);
    });
  nodes
    .command('rm <node>')
    .description('remove a node that is down (or a worker that is up, with --force)')
    .option('--force', 'remove it even if it still answers')
    .action(async (node: string, opts: { force?: boolean }, cmd: Command) => {
      await client(cmd).call('deleteNode', { params: { id: node }, query: opts.force ? { force: true } : {} });
      emit(globals(cmd), { ok: true }, () => `Removed node ${node}.`);
    });
}
