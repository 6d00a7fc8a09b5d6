import { useState, type FormEvent } from 'react';
import { Link } from 'react-router-dom';
import { call, type Project } from '../api';
import { useEvents } from '../live';
import { ConfirmButton, ErrorText, Field, Section, ago, useAction, useLoad } from '../ui';

/** The project's volumes, which apps mount them; create and delete (typed confirmation). */
export function ProjectVolumes({ project: p, canChange }: { project: Project; canChange: boolean }) {
  const list = useLoad(() => call('listVolumes', { query: { project: p.id } }), [p.id]);
  // A volume made or deleted, or an app's mounts changed (app.updated, release.created).
  useEvents(() => list.reload(), (e) => e.project_id === p.id && (e.kind.startsWith('volume.') || e.kind.startsWith('app.') || e.kind === 'release.created'));
  const items = list.data?.items ?? [];
  return (
    <Section title="Volumes" actions={<span className="muted">{items.length} volumes</span>}>
      <p className="muted">Named storage of the project, kept across deploys. Mount one into an app in its Settings tab.</p>
      <ErrorText error={list.error} />
      <table>
        <thead>
          <tr>
            <th>Volume</th>
            <th>Size</th>
            <th>Mounted by</th>
            <th>Engine volume</th>
            <th>Created</th>
            {canChange && <th>Actions</th>}
          </tr>
        </thead>
        <tbody>
          {items.map((v) => (
            <tr key={v.id} aria-label={`Volume ${v.name}`}>
              <td className="mono">{v.name}</td>
              <td>{v.size_mb === null ? '—' : `${v.size_mb} MB`}</td>
              <td>
                {v.mounted_by.length
                  ? v.mounted_by.map((slug, i) => (
                      <span key={slug}>
                        {i > 0 && ', '}
                        <Link to={`/apps/${encodeURIComponent(slug)}/settings`}>{slug}</Link>
                      </span>
                    ))
                  : 'no app'}
              </td>
              <td className="mono small">{v.engine_name}</td>
              <td>{ago(v.created_at)}</td>
              {canChange && (
                <td>
                  <ConfirmButton
                    label={`Delete ${v.name}`}
                    question={`Delete volume ${v.name} and its data?`}
                    typed={v.name}
                    danger
                    onConfirm={() => call('deleteVolume', { params: { id: v.id }, query: {} }).then(list.reload)}
                  />
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      {list.data && items.length === 0 && <p>No volumes.</p>}
      {canChange && <NewVolume project={p.id} onCreated={list.reload} />}
    </Section>
  );
}

function NewVolume({ project, onCreated }: { project: string; onCreated: () => void }) {
  const [name, setName] = useState('');
  const [size, setSize] = useState('');
  const { busy, error, run } = useAction();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      await call('createVolume', { body: { name, project, ...(size ? { size_mb: Number(size) } : {}) } });
      setName('');
      setSize('');
      onCreated();
    });
  };
  return (
    <form onSubmit={submit} className="inline" aria-label="New volume">
      <Field label="Volume name" value={name} onChange={setName} required field="name" error={error} />
      <Field label="Size (MB, optional)" value={size} onChange={setSize} inputMode="numeric" field="size_mb" error={error} />
      <button type="submit" className="primary" disabled={busy}>
        Create volume
      </button>
      <ErrorText error={error} fields={['name', 'size_mb']} />
    </form>
  );
}
