import { useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import { call } from '../api';
import { useEvents } from '../live';
import { ErrorText, Section, ago, useAction, useLoad, Field } from '../ui';

export function Projects() {
  const projects = useLoad(() => call('listProjects', { query: { limit: 500 } }), []);
  useEvents(() => projects.reload());
  const [name, setName] = useState('');
  const create = useAction();
  const navigate = useNavigate();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void create.run(async () => {
      const p = await call('createProject', { body: { name } });
      navigate(`/projects/${encodeURIComponent(p.name)}`);
    });
  };
  return (
    <>
      <h1>Projects</h1>
      <ErrorText error={projects.error} />
      <table>
        <thead>
          <tr>
            <th>Name</th>
            <th>Your role</th>
            <th>Apps</th>
            <th>Owner</th>
            <th>Created</th>
          </tr>
        </thead>
        <tbody>
          {projects.data?.items.map((p) => (
            <tr key={p.id}>
              <td>
                <Link to={`/projects/${encodeURIComponent(p.name)}`}>{p.name}</Link>
              </td>
              <td>{p.role}</td>
              <td>{p.apps}</td>
              <td>{p.owner.username}</td>
              <td>{ago(p.created_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {projects.data?.items.length === 0 && <p>No projects yet.</p>}
      <Section title="New project">
        <form onSubmit={submit} className="inline">
          <Field label="Project name" value={name} onChange={setName} required pattern="[a-z0-9]([a-z0-9-]*[a-z0-9])?" />
          <button type="submit" className="primary" disabled={create.busy}>
            Create project
          </button>
          <ErrorText error={create.error} />
        </form>
      </Section>
    </>
  );
}
