import { call, type RouteOutput } from '../api';
import { useAuth } from '../auth';
import { ErrorText, Fact, NotFound, Section, Status, ago, useEvery, useLoad, useTitle } from '../ui';

type Planes = RouteOutput<'listControlPlanes'>;

/** Instances heartbeat every 2 s and a takeover is no Berth event: the list is read again this often. */
export const CONTROL_PLANE_POLL_MS = 2000;

/** The control-plane instances sharing the database and which one leads (admins only; for others, as for the API, there is no such page). */
export function ControlPlanesPage() {
  const { user } = useAuth();
  return user?.is_admin ? <ControlPlanesTitled /> : <NotFound />;
}

function ControlPlanesTitled() {
  useTitle('Control planes');
  return <ControlPlanes />;
}

function ControlPlanes() {
  const planes = useLoad(() => call('listControlPlanes'), []);
  useEvery(() => planes.reload(), CONTROL_PLANE_POLL_MS);
  const p = planes.data;
  return (
    <>
      <h1>Control planes</h1>
      <ErrorText error={planes.error} />
      {p && (
        <section aria-label="Leader" className="overview">
          <dl className="facts">
            <Fact term="Database">{p.engine === 'postgres' ? 'PostgreSQL (several instances may share it)' : 'SQLite (one instance, always the leader)'}</Fact>
            <Fact term="Leader" className="mono">
              {p.leader ? p.leader.id : 'none right now (a takeover is under way)'}
            </Fact>
            {p.leader && <Fact term="Leads since">{`${new Date(p.leader.since).toLocaleString()} (term ${p.leader.term})`}</Fact>}
          </dl>
        </section>
      )}
      {p && <PlaneTable planes={p} />}
    </>
  );
}

function PlaneTable({ planes }: { planes: Planes }) {
  return (
    <Section title="Instances" actions={<span className="muted">{planes.items.length} seen in the last 30 s</span>}>
      <table>
        <thead>
          <tr>
            <th>Instance</th>
            <th>Address</th>
            <th>Role</th>
            <th>Leads since</th>
            <th>Started</th>
            <th>Last seen</th>
          </tr>
        </thead>
        <tbody>
          {planes.items.map((c) => (
            <tr key={c.id} aria-label={`Control plane ${c.id}`}>
              <td className="mono">
                {c.id}
                {c.self && <span className="muted"> (this one)</span>}
              </td>
              <td className="mono small">{c.address}</td>
              <td>
                <Status value={c.leader ? 'leader' : 'follower'} />
              </td>
              <td>{c.leader && planes.leader ? new Date(planes.leader.since).toLocaleString() : '—'}</td>
              <td>{ago(c.started_at)}</td>
              <td>{ago(c.last_seen)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Section>
  );
}
