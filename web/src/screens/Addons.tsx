import { useState, type FormEvent } from 'react';
import { Link } from 'react-router-dom';
import { call, type Project } from '../api';
import { useEvents } from '../live';
import { ErrorText, Field, SelectField, Section, Status, useAction, useLoad } from '../ui';

export const ADDON_TYPES = { postgres: 'PostgreSQL', redis: 'Redis' } as const;
/** The versions a new add-on may ask for (the server checks them: a 400 naming `version` otherwise; none asked: its default, BERTH_ADDON_POSTGRES_VERSION). */
const ADDON_VERSIONS: Record<keyof typeof ADDON_TYPES, string[]> = { postgres: ['17', '15'], redis: ['7'] };
/** "PostgreSQL 17": the type and, when known, its major version. */
export const addonKind = (a: { type: keyof typeof ADDON_TYPES; version: string | null }) => `${ADDON_TYPES[a.type]}${a.version ? ` ${a.version}` : ''}`;

/** The project's managed PostgreSQL and Redis add-ons: status, where they answer, which apps use them; create one. */
export function ProjectAddons({ project: p, canChange }: { project: Project; canChange: boolean }) {
  const list = useLoad(() => call('listAddons', { query: { project: p.id } }), [p.id]);
  useEvents(() => list.reload(), (e) => e.project_id === p.id && e.kind.startsWith('addon.'));
  const items = list.data?.items ?? [];
  return (
    <Section title="Add-ons" actions={<span className="muted">{items.length} add-ons</span>}>
      <p className="muted">Managed databases on the project’s network only; attaching one sets its URL as a secret config var of the app.</p>
      <ErrorText error={list.error} />
      <table>
        <thead>
          <tr>
            <th>Add-on</th>
            <th>Type</th>
            <th>Status</th>
            <th>Address</th>
            <th>Attached to</th>
            <th>Backups</th>
          </tr>
        </thead>
        <tbody>
          {items.map((a) => (
            <tr key={a.id} aria-label={`Add-on ${a.name}`}>
              <td>
                <Link to={`/addons/${encodeURIComponent(a.id)}`}>{a.name}</Link>
              </td>
              <td>{addonKind(a)}</td>
              <td>
                <Status value={a.status} />
                {a.message && <div className="muted small">{a.message}</div>}
              </td>
              <td className="mono">
                {a.host}:{a.port}
              </td>
              <td>{a.attachments.length ? a.attachments.map((t) => `${t.app} (${t.var})`).join(', ') : 'no app'}</td>
              <td>{a.backup_schedule ? `${a.backup_schedule} UTC, keep ${a.backup_keep}` : 'on demand'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {list.data && items.length === 0 && <p>No add-ons.</p>}
      {canChange && <NewAddon project={p.id} onCreated={list.reload} />}
    </Section>
  );
}

function NewAddon({ project, onCreated }: { project: string; onCreated: () => void }) {
  const [type, setType] = useState<keyof typeof ADDON_TYPES>('postgres');
  const [version, setVersion] = useState('');
  const [name, setName] = useState('');
  const [schedule, setSchedule] = useState('');
  const { busy, error, run } = useAction();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      await call('createAddon', { body: { type, project, ...(name ? { name } : {}), ...(version ? { version } : {}), ...(schedule ? { backup_schedule: schedule } : {}) } });
      setName('');
      setSchedule('');
      onCreated();
    });
  };
  return (
    <form onSubmit={submit} className="inline" aria-label="New add-on">
      <SelectField
        label="Type"
        value={type}
        onChange={(v) => {
          setType(v as typeof type);
          setVersion('');
        }}
        options={Object.entries(ADDON_TYPES)}
        field="type"
        error={error}
      />
      <SelectField
        label="Version"
        value={version}
        onChange={setVersion}
        options={[['', "the server's default"] as [string, string], ...ADDON_VERSIONS[type].map((v) => [v, v] as [string, string])]}
        field="version"
        error={error}
      />
      <Field label="Add-on name" value={name} onChange={setName} placeholder={type} field="name" error={error} />
      <Field label="Backup schedule (cron, UTC; optional)" value={schedule} onChange={setSchedule} placeholder="0 3 * * *" field="backup_schedule" error={error} />
      <button type="submit" className="primary" disabled={busy}>
        Create add-on
      </button>
      <ErrorText error={error} fields={['type', 'version', 'name', 'backup_schedule']} />
    </form>
  );
}
