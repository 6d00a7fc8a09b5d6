import { useRef, useState, type FormEvent } from 'react';
import { Link } from 'react-router-dom';
import { call, type RouteOutput } from '../api';
import { useAuth } from '../auth';
import { ErrorText, Fact, Field, NotFound, Section, SelectField, Status, bytes, useAction, useEvery, useLoad, useTitle } from '../ui';

export type Node = RouteOutput<'getNode'>;
type Cluster = RouteOutput<'getCluster'>;

/** How often node state is looked at again: Swarm's node changes are no Berth event. */
export const NODE_POLL_MS = 1000;

/** Cluster mode and its nodes (admins only; for others, as for the API, there is no such page). */
export function NodesPage() {
  const { user } = useAuth();
  return user?.is_admin ? <NodesTitled /> : <NotFound />;
}

function NodesTitled() {
  useTitle('Nodes');
  return <Nodes />;
}

const MODE: Record<Cluster['status'], string> = {
  none: 'Single node',
  initializing: 'Becoming a cluster manager…',
  active: 'Cluster (Docker Swarm)',
  failed: 'Single node (the last attempt to start a cluster failed)',
};

function Nodes() {
  const cluster = useLoad(() => call('getCluster'), []);
  const active = cluster.data?.status === 'active';
  const nodes = useLoad(() => (active ? call('listNodes') : Promise.resolve(null)), [active]);
  useEvery(() => (active ? nodes.reload() : cluster.reload()), NODE_POLL_MS, !!cluster.data && (active || cluster.data.status === 'initializing'));
  const c = cluster.data;
  return (
    <>
      <h1>Nodes</h1>
      <ErrorText error={cluster.error} />
      {c && (
        <section aria-label="Cluster" className="overview">
          <dl className="facts">
            <Fact term="Mode">{MODE[c.status]}</Fact>
            {c.node_id && (
              <Fact term="This server’s node" className="mono">
                {c.node_id}
              </Fact>
            )}
            {c.advertise_addr && (
              <Fact term="Advertise address" className="mono">
                {c.advertise_addr}
              </Fact>
            )}
          </dl>
          {c.status === 'failed' && c.message && <p className="error">{c.message}</p>}
          {!active && <InitCluster cluster={c} onDone={cluster.reload} />}
        </section>
      )}
      {active && <JoinCommand />}
      {active && <NodeTable nodes={nodes.data?.items} error={nodes.error} />}
    </>
  );
}

function InitCluster({ cluster, onDone }: { cluster: Cluster; onDone: () => void }) {
  const [open, setOpen] = useState(false);
  const [addr, setAddr] = useState(cluster.advertise_addr ?? '');
  const act = useAction();
  if (!cluster.enabled) {
    return (
      <p className="muted">
        This server was started without <code>BERTH_CLUSTER=1</code>, so it stays a single node. Start it with that variable (in <code>berth.env</code>) to allow cluster
        mode.
      </p>
    );
  }
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void act.run(async () => {
      await call('initCluster', { body: addr.trim() ? { advertise_addr: addr.trim() } : {} });
      setOpen(false);
      onDone();
    });
  };
  if (!open) {
    return (
      <button type="button" className="primary" onClick={() => setOpen(true)}>
        Turn this server into a cluster manager
      </button>
    );
  }
  return (
    <form onSubmit={submit} className="confirm" aria-label="Turn this server into a cluster manager">
      <span>
        Make this server’s Docker Engine a Swarm manager? Other servers can then join it, and apps run as Swarm services across the nodes. This is not undone from
        Berth.
      </span>
      <Field label="Advertise address (optional)" value={addr} onChange={setAddr} placeholder="10.0.0.5" field="advertise_addr" error={act.error} />
      <button type="submit" className="primary" disabled={act.busy}>
        Confirm
      </button>
      <button type="button" onClick={() => setOpen(false)}>
        Cancel
      </button>
      <ErrorText error={act.error} fields={['advertise_addr']} />
    </form>
  );
}

function JoinCommand() {
  const [role, setRole] = useState<'worker' | 'manager'>('worker');
  const join = useLoad(() => call('getJoinCommand', { query: { role } }), [role]);
  const [copied, setCopied] = useState('');
  const pre = useRef<HTMLPreElement>(null);
  const copy = async () => {
    const text = join.data?.command ?? '';
    try {
      await navigator.clipboard.writeText(text);
      setCopied('Copied to the clipboard.');
    } catch {
      // No clipboard (a page not served over HTTPS or from localhost): select it for Ctrl+C.
      const range = document.createRange();
      range.selectNodeContents(pre.current!);
      getSelection()?.removeAllRanges();
      getSelection()?.addRange(range);
      setCopied('Selected: press Ctrl+C to copy.');
    }
  };
  return (
    <Section title="Add a server">
      <p className="muted">
        Run this line as root on the new server (Docker Engine installed): it makes its engine trust Berth’s image registry, then joins the cluster.
      </p>
      <div className="inline">
        <SelectField label="Join as" value={role} onChange={(v) => (setRole(v as 'worker' | 'manager'), setCopied(''))} options={[['worker', 'worker'], ['manager', 'manager']]} />
        <button type="button" onClick={copy} disabled={!join.data}>
          Copy join command
        </button>
        {copied && <span role="status">{copied}</span>}
      </div>
      <ErrorText error={join.error} />
      {join.data && (
        <pre className="output" ref={pre} aria-label="Join command">
          {join.data.command}
        </pre>
      )}
    </Section>
  );
}

export const cpus = (n: number) => String(Math.round(n * 100) / 100);

function NodeTable({ nodes, error }: { nodes: Node[] | undefined; error: unknown }) {
  return (
    <Section title="Nodes" actions={nodes && <span className="muted">{nodes.filter((n) => n.state === 'ready').length} of {nodes.length} ready</span>}>
      <ErrorText error={error} />
      <table>
        <thead>
          <tr>
            <th>Hostname</th>
            <th>Addresses</th>
            <th>Role</th>
            <th>Availability</th>
            <th>State</th>
            <th>Engine</th>
            <th>Labels</th>
            <th>CPUs (allocated / capacity)</th>
            <th>Memory (allocated / capacity)</th>
            <th>Replicas</th>
          </tr>
        </thead>
        <tbody>
          {nodes?.map((n) => (
            <tr key={n.id} aria-label={`Node ${n.hostname}`}>
              <td>
                <Link to={`/nodes/${encodeURIComponent(n.id)}`}>{n.hostname}</Link>
              </td>
              <td className="mono small">{n.addresses.join(', ')}</td>
              <td>{role(n)}</td>
              <td>
                <Status value={n.availability} />
              </td>
              <td>
                <Status value={n.state} />
              </td>
              <td className="mono small">{n.engine_version}</td>
              <td>
                <Labels labels={n.labels} />
              </td>
              <td>
                {cpus(n.allocated.cpus)} / {cpus(n.capacity.cpus)}
              </td>
              <td>
                {bytes(n.allocated.memory_bytes)} / {bytes(n.capacity.memory_bytes)}
              </td>
              <td>{n.replicas.length}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Section>
  );
}

export const role = (n: Node) => (n.leader ? 'manager (leader)' : n.role);

export function Labels({ labels }: { labels: Record<string, string> }) {
  const entries = Object.entries(labels);
  if (!entries.length) return <span className="muted">none</span>;
  return (
    <span className="labels">
      {entries.map(([k, v]) => (
        <code key={k}>
          {k}={v}
        </code>
      ))}
    </span>
  );
}
