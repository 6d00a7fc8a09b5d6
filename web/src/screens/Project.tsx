import { useState, type FormEvent } from 'react';
import { Link, NavLink, useNavigate, useParams } from 'react-router-dom';
import { call, type App } from '../api';
import { useEvents } from '../live';
import { ConfirmButton, ErrorText, Section, Status, ago, plural, useAction, useLoad, useTitle, Field } from '../ui';
import { ProjectVolumes } from './Volumes';
import { ProjectAddons } from './Addons';

const PAGE = 100;

export function ProjectPage() {
  const { name = '', tab = '' } = useParams();
  const navigate = useNavigate();
  const [offset, setOffset] = useState(0);
  const project = useLoad(() => call('getProject', { params: { id: name } }), [name]);
  const apps = useLoad(() => call('listApps', { query: { project: name, limit: PAGE, offset } }), [name, offset]);
  const members = useLoad(() => call('listMembers', { params: { id: name } }), [name]);
  useEvents(() => apps.reload(), (e) => e.project_id === project.data?.id);
  useTitle(project.data?.name ?? name, 'Projects');
  const p = project.data;
  if (project.error) return <ErrorText error={project.error} />;
  if (!p) return <p className="loading">Loading…</p>;
  const canChange = p.role !== 'viewer';
  const isOwner = p.role === 'owner';
  const total = apps.data?.total ?? 0;
  return (
    <>
      <p className="crumbs">
        <Link to="/projects">Projects</Link> /
      </p>
      <h1>{p.name}</h1>
      <p className="muted">
        Your role: {p.role} · owner {p.owner.username}
      </p>
      <nav className="tabs" aria-label="Project sections">
        {[
          ['', 'Overview'],
          ['volumes', 'Volumes'],
          ['addons', 'Add-ons'],
        ].map(([t, label]) => (
          <NavLink key={t} end to={`/projects/${encodeURIComponent(p.name)}${t ? `/${t}` : ''}`}>
            {label}
          </NavLink>
        ))}
      </nav>
      {tab === 'volumes' && <ProjectVolumes project={p} canChange={canChange} />}
      {tab === 'addons' && <ProjectAddons project={p} canChange={canChange} />}
      {tab !== '' && tab !== 'volumes' && tab !== 'addons' && <p>There is no such tab.</p>}
      {tab === '' && (
        <>
          <Section title="Apps" actions={<span className="muted">{plural(total, 'app')}</span>}>
            <ErrorText error={apps.error} />
            <AppTable items={apps.data?.items ?? []} />
            {total > PAGE && (
              <nav aria-label="Pages" className="pager">
                <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>
                  Previous page
                </button>
                <span>
                  {offset + 1}–{Math.min(offset + PAGE, total)} of {total}
                </span>
                <button type="button" disabled={offset + PAGE >= total} onClick={() => setOffset(offset + PAGE)}>
                  Next page
                </button>
              </nav>
            )}
            {canChange && <NewApp project={p.name} onCreated={(slug) => navigate(`/apps/${encodeURIComponent(slug)}`)} />}
          </Section>
          <Section title="Members">
            <ErrorText error={members.error} />
            <ul className="plain">
              {members.data?.items.map((m) => (
                <li key={m.user_id}>
                  {m.username} — {m.role}{' '}
                  {isOwner && m.role !== 'owner' && (
                    <ConfirmButton label={`Remove ${m.username}`} question={`Remove ${m.username} from ${p.name}?`} danger onConfirm={() => call('removeMember', { params: { id: p.id, user: m.username } }).then(members.reload)} />
                  )}
                </li>
              ))}
            </ul>
            {isOwner && <AddMember project={p.id} onAdded={members.reload} />}
          </Section>
          {isOwner && (
            <Section title="Settings">
              <Rename project={p.id} current={p.name} onRenamed={(n) => navigate(`/projects/${encodeURIComponent(n)}`, { replace: true })} />
              <ConfirmButton
                label="Delete project"
                question={`Delete project ${p.name} and all its apps?`}
                typed={p.name}
                danger
                onConfirm={async () => {
                  await call('deleteProject', { params: { id: p.id } });
                  navigate('/projects');
                }}
              />
            </Section>
          )}
        </>
      )}
    </>
  );
}

export function AppTable({ items }: { items: App[] }) {
  return (
    <table>
      <thead>
        <tr>
          <th>App</th>
          <th>Status</th>
          <th>Release</th>
          <th>Replicas</th>
          <th>URL</th>
          <th>Last change</th>
        </tr>
      </thead>
      <tbody>
        {items.map((a) => (
          <tr key={a.id}>
            <td>
              <Link to={`/apps/${encodeURIComponent(a.slug)}`}>{a.name}</Link>
            </td>
            <td>
              <Status value={a.status} />
            </td>
            <td>{a.release ? `v${a.release}` : '—'}</td>
            <td>{a.replicas}</td>
            <td>
              <a href={a.url} rel="noreferrer noopener" target="_blank">
                {a.url.replace(/^https?:\/\//, '')}
              </a>
            </td>
            <td>{ago(a.updated_at)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function NewApp({ project, onCreated }: { project: string; onCreated: (slug: string) => void }) {
  const [name, setName] = useState('');
  const { busy, error, run } = useAction();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => onCreated((await call('createApp', { body: { name, project } })).slug));
  };
  return (
    <form onSubmit={submit} className="inline" aria-label="New app">
      <Field label="App name" value={name} onChange={setName} required />
      <button type="submit" className="primary" disabled={busy}>
        Create app
      </button>
      <ErrorText error={error} />
    </form>
  );
}

function AddMember({ project, onAdded }: { project: string; onAdded: () => void }) {
  const [username, setUsername] = useState('');
  const [role, setRole] = useState<'viewer' | 'developer' | 'owner'>('developer');
  const { busy, error, run } = useAction();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      await call('addMember', { params: { id: project }, body: { username, role } });
      setUsername('');
      onAdded();
    });
  };
  return (
    <form onSubmit={submit} className="inline" aria-label="Add member">
      <Field label="Username" value={username} onChange={setUsername} required />
      <label>
        Role
        <select value={role} onChange={(e) => setRole(e.target.value as typeof role)}>
          <option value="viewer">viewer</option>
          <option value="developer">developer</option>
          <option value="owner">owner</option>
        </select>
      </label>
      <button type="submit" disabled={busy}>
        Add member
      </button>
      <ErrorText error={error} />
    </form>
  );
}

function Rename({ project, current, onRenamed }: { project: string; current: string; onRenamed: (name: string) => void }) {
  const [name, setName] = useState(current);
  const { busy, error, run } = useAction();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => onRenamed((await call('updateProject', { params: { id: project }, body: { name } })).name));
  };
  return (
    <form onSubmit={submit} className="inline" aria-label="Rename project">
      <Field label="New name" value={name} onChange={setName} required />
      <button type="submit" disabled={busy || name === current}>
        Rename project
      </button>
      <ErrorText error={error} />
    </form>
  );
}
