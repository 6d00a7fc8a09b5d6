import { useEffect, useState, type FormEvent } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { call } from '../api';
import { useAuth } from '../auth';
import { ConfirmButton, ErrorText, Fact, Field, NotFound, Section, Status, bytes, useAction, useEvery, useLoad, useTitle } from '../ui';
import { Labels, NODE_POLL_MS, cpus, role, type Node } from './Nodes';

/** One cluster node: its replicas, labels, drain / activate / remove (admins only). */
export function NodePage() {
  const { user } = useAuth();
  return user?.is_admin ? <NodeDetails /> : <NotFound />;
}

function NodeDetails() {
  const { id = '' } = useParams();
  const node = useLoad(() => call('getNode', { params: { id } }), [id]);
  useEvery(node.reload, NODE_POLL_MS);
  useTitle(node.data?.hostname ?? id, 'Nodes');
  const n = node.data;
  return (
    <>
      <p className="crumbs">
        <Link to="/nodes">Nodes</Link> /
      </p>
      {!n && node.error ? <ErrorText error={node.error} /> : null}
      {!n && !node.error && <p className="loading">Loading…</p>}
      {n && (
        <>
          <h1>{n.hostname}</h1>
          <Overview node={n} reload={node.reload} />
          <Replicas node={n} />
          <LabelEditor node={n} reload={node.reload} />
        </>
      )}
    </>
  );
}

function Overview({ node: n, reload }: { node: Node; reload: () => void }) {
  const navigate = useNavigate();
  const [force, setForce] = useState(false);
  const moving = n.replicas.filter((r) => r.app_slug).length;
  return (
    <section aria-label="Overview" className="overview">
      <dl className="facts">
        <Fact term="Id" className="mono">
          {n.id}
        </Fact>
        <Fact term="Addresses" className="mono">
          {n.addresses.join(', ')}
        </Fact>
        <Fact term="Role">{role(n)}</Fact>
        <Fact term="State">
          <Status value={n.state} />
        </Fact>
        <Fact term="Availability">
          <Status value={n.availability} />
        </Fact>
        <Fact term="Engine" className="mono">
          {n.engine_version}
        </Fact>
        <Fact term="CPUs (allocated / capacity)">
          {cpus(n.allocated.cpus)} / {cpus(n.capacity.cpus)}
        </Fact>
        <Fact term="Memory (allocated / capacity)">
          {bytes(n.allocated.memory_bytes)} / {bytes(n.capacity.memory_bytes)}
        </Fact>
      </dl>
      {n.availability === 'draining' && (
        <p role="status">
          Draining: no new replica starts here, and Berth moves the {moving} replica{moving === 1 ? '' : 's'} of its apps still here to other nodes one at a time (each new one
          serving before the old one stops). Swarm’s drain follows once none is left.
        </p>
      )}
      {n.availability === 'pause' && <p className="muted">Paused in Swarm: its replicas keep running, no new one starts here.</p>}
      {n.last_change?.status === 'failed' && <p className="error">The last change failed: {n.last_change.message}</p>}
      <div className="actions">
        {n.availability !== 'drain' && n.availability !== 'draining' && (
          <ConfirmButton
            label="Drain"
            name={`Drain ${n.hostname}`}
            question={`Drain ${n.hostname}? Its replicas move to other nodes and no new one starts here.`}
            onConfirm={() => call('drainNode', { params: { id: n.id } }).then(reload)}
          />
        )}
        {n.availability !== 'active' && (
          <ConfirmButton
            label="Activate"
            name={`Activate ${n.hostname}`}
            question={`Activate ${n.hostname}? Swarm may place replicas here again.`}
            onConfirm={() => call('activateNode', { params: { id: n.id } }).then(reload)}
          />
        )}
        {n.state !== 'down' && (
          <label className="check">
            <input type="checkbox" checked={force} onChange={(e) => setForce(e.target.checked)} />
            Remove even though it is up (force)
          </label>
        )}
        <ConfirmButton
          label="Remove from the cluster"
          name={`Remove ${n.hostname}`}
          question={`Remove ${n.hostname} from the cluster?${n.state === 'down' ? '' : ' It is still up: drain it first, or its replicas stop with it.'}`}
          typed={n.hostname}
          danger
          onConfirm={async () => {
            await call('deleteNode', { params: { id: n.id }, query: force && n.state !== 'down' ? { force: true } : {} });
            navigate('/nodes');
          }}
        />
      </div>
    </section>
  );
}

function Replicas({ node: n }: { node: Node }) {
  return (
    <Section title="Replicas" actions={<span className="muted">{n.replicas.length} on this node</span>}>
      <table>
        <thead>
          <tr>
            <th>App</th>
            <th>Release</th>
            <th>Status</th>
            <th>Traffic</th>
            <th>Addresses</th>
          </tr>
        </thead>
        <tbody>
          {n.replicas.map((r) => (
            <tr key={r.task_id} aria-label={`Replica ${r.app_slug ?? r.task_id}`}>
              <td>
                {r.app_slug ? (
                  <Link to={`/apps/${encodeURIComponent(r.app_slug)}/containers`}>{r.app_slug}</Link>
                ) : (
                  <span className="muted" title={`Swarm service ${r.service_id}`}>
                    {r.app ?? r.service_id} (not one of Berth’s apps)
                  </span>
                )}
              </td>
              <td>{r.release === null ? '—' : `v${r.release}`}</td>
              <td>
                <Status value={r.status ?? r.state} />
              </td>
              <td>{r.in_rotation === null ? '—' : r.in_rotation ? 'in rotation' : 'out'}</td>
              <td className="mono small">{r.addresses.join(', ')}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {n.replicas.length === 0 && <p>No replica runs here.</p>}
    </Section>
  );
}

type Row = { key: string; value: string };
const rowsOf = (labels: Record<string, string>): Row[] => Object.entries(labels).map(([key, value]) => ({ key, value }));

/** The node's labels, replaced as a set (PUT labels); an error about one label is shown beside its key. */
function LabelEditor({ node: n, reload }: { node: Node; reload: () => void }) {
  const [rows, setRows] = useState<Row[]>(rowsOf(n.labels));
  const [dirty, setDirty] = useState(false);
  const [note, setNote] = useState('');
  const act = useAction();
  const saved = JSON.stringify(n.labels);
  // The page refreshes every second: take the node's labels while the form holds no edit.
  useEffect(() => {
    if (!dirty) setRows(rowsOf(JSON.parse(saved) as Record<string, string>));
  }, [saved, dirty]);
  const edit = (next: Row[]) => {
    setRows(next);
    setDirty(true);
    setNote('');
  };
  const save = (e: FormEvent) => {
    e.preventDefault();
    void act.run(async () => {
      const labels = Object.fromEntries(rows.map((r) => [r.key.trim(), r.value]));
      await call('setNodeLabels', { params: { id: n.id }, body: { labels } });
      setDirty(false);
      setNote('Saved: placement constraints such as node.labels.KEY==VALUE use them from the next release.');
      reload();
    });
  };
  const fields = rows.map((r) => `labels.${r.key.trim()}`);
  return (
    <Section title="Labels">
      <form onSubmit={save} aria-label="Node labels">
        <div className="mounts">
          {rows.map((r, i) => (
            <div className="inline" key={i} role="group" aria-label={`Label ${i + 1}`}>
              <Field label="Key" value={r.key} onChange={(key) => edit(rows.map((x, j) => (j === i ? { ...x, key } : x)))} field={fields[i]} error={act.error} />
              <Field label="Value" value={r.value} onChange={(value) => edit(rows.map((x, j) => (j === i ? { ...x, value } : x)))} />
              <button type="button" onClick={() => edit(rows.filter((_, j) => j !== i))}>
                Remove label
              </button>
            </div>
          ))}
          {rows.length === 0 && <p>No labels.</p>}
        </div>
        <button type="button" onClick={() => edit([...rows, { key: '', value: '' }])}>
          Add a label
        </button>
        <button type="submit" className="primary" disabled={act.busy}>
          Save labels
        </button>
        {note && <p role="status">{note}</p>}
        <ErrorText error={act.error} fields={fields} />
      </form>
      <p className="muted">
        Now: <Labels labels={n.labels} />
      </p>
    </Section>
  );
}
