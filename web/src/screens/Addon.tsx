import { useState, type FormEvent } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { backupDownloadUrl, call, type Addon, type AddonJob } from '../api';
import { useEvents } from '../live';
import { ConfirmButton, ErrorText, Fact, Field, SelectField, Section, Status, ago, bytes, useAction, useLoad, useTitle } from '../ui';
import { addonKind } from './Addons';
import { AddonConnection } from './AddonConnection';

/** One add-on: where it answers, the apps it is attached to (attach, detach), backups (take, download, restore), delete. */
export function AddonPage() {
  const { id = '' } = useParams();
  const navigate = useNavigate();
  const addon = useLoad(() => call('getAddon', { params: { id }, query: {} }), [id]);
  const project = useLoad(() => (addon.data ? call('getProject', { params: { id: addon.data.project.id } }) : Promise.resolve(null)), [addon.data?.project.id]);
  useTitle(addon.data?.name ?? id, 'Add-ons');
  useEvents(() => addon.reload(), (e) => e.project_id === addon.data?.project.id && (e.data?.addon === addon.data?.id || e.kind.startsWith('app.')));
  if (addon.error) return <ErrorText error={addon.error} />;
  const a = addon.data;
  if (!a) return <p className="loading">Loading…</p>;
  const canChange = !!project.data && project.data.role !== 'viewer';
  return (
    <>
      <p className="crumbs">
        <Link to="/projects">Projects</Link> / <Link to={`/projects/${encodeURIComponent(a.project.name)}`}>{a.project.name}</Link> /{' '}
        <Link to={`/projects/${encodeURIComponent(a.project.name)}/addons`}>Add-ons</Link> /
      </p>
      <h1>{a.name}</h1>
      <section aria-label="Overview" className="overview">
        <dl className="facts">
          <Fact term="Type">{addonKind(a)}</Fact>
          <Fact term="Status">
            <Status value={a.status} />
          </Fact>
          <Fact term="Address (project network only)" className="mono">
            {a.host}:{a.port}
          </Fact>
          <Fact term="Image" className="mono">
            {a.image}
          </Fact>
        </dl>
        {a.message && <p className="error">{a.message}</p>}
        {canChange && (
          <ConfirmButton
            label="Delete add-on"
            question={`Delete ${a.name}, its data and its backups?`}
            typed={a.name}
            danger
            onConfirm={async () => {
              await call('deleteAddon', { params: { id: a.id }, query: {} });
              navigate(`/projects/${encodeURIComponent(a.project.name)}/addons`);
            }}
          />
        )}
      </section>
      <AddonConnection addon={a} canChange={canChange} />
      <Attachments addon={a} canChange={canChange} reload={addon.reload} />
      <Backups addon={a} canChange={canChange} reload={addon.reload} />
    </>
  );
}

interface AddonProps {
  addon: Addon;
  canChange: boolean;
  reload: () => void;
}

function Attachments({ addon: a, canChange, reload }: AddonProps) {
  const apps = useLoad(() => (canChange ? call('listApps', { query: { project: a.project.id, limit: 500 } }) : Promise.resolve(null)), [a.project.id, canChange]);
  const [app, setApp] = useState('');
  const [as, setAs] = useState('');
  const [note, setNote] = useState('');
  const act = useAction();
  const attached = new Set(a.attachments.map((t) => t.app));
  const choices = (apps.data?.items ?? []).filter((x) => !attached.has(x.slug));
  const chosen = app || choices[0]?.slug || '';
  const said = (what: string, release: { version: number } | null) =>
    setNote(release ? `${what}: release v${release.version} is rolling out with it.` : `${what}: it takes effect at the app’s next deploy.`);
  const attach = (e: FormEvent) => {
    e.preventDefault();
    void act.run(async () => {
      const res = await call('attachAddon', { params: { id: a.id }, query: {}, body: { app: chosen, ...(as ? { as } : {}) } });
      said(`Attached to ${chosen}`, res.release);
      setApp('');
      setAs('');
      reload();
    });
  };
  return (
    <Section title="Attached apps">
      {note && <p role="status">{note}</p>}
      <ul className="plain">
        {a.attachments.map((t) => (
          <li key={t.app} aria-label={`Attachment ${t.app}`}>
            <Link to={`/apps/${encodeURIComponent(t.app)}/config`}>{t.app}</Link> as <code>{t.var}</code> (secret config var){' '}
            {canChange && (
              <ConfirmButton
                label={`Detach from ${t.app}`}
                question={`Detach ${a.name} from ${t.app}? ${t.var} is removed, which makes a new release.`}
                danger
                onConfirm={() => call('detachAddon', { params: { id: a.id }, query: {}, body: { app: t.app } }).then((res) => (said(`Detached from ${t.app}`, res.release), reload()))}
              />
            )}
          </li>
        ))}
      </ul>
      {a.attachments.length === 0 && <p>Not attached to any app.</p>}
      {canChange && (
        <form onSubmit={attach} className="inline" aria-label="Attach to an app">
          <SelectField label="App" value={chosen} onChange={setApp} options={choices.map((x) => [x.slug, x.name])} field="app" error={act.error} required />
          <Field label="As (optional)" value={as} onChange={setAs} placeholder={a.type === 'postgres' ? 'DATABASE' : 'REDIS'} field="as" error={act.error} />
          <button type="submit" className="primary" disabled={act.busy || !chosen}>
            Attach
          </button>
          <ErrorText error={act.error} fields={['app', 'as']} />
        </form>
      )}
      {canChange && apps.data && choices.length === 0 && <p className="muted">Every app of the project is attached.</p>}
    </Section>
  );
}

function Backups({ addon: a, canChange, reload }: AddonProps) {
  const list = useLoad(() => call('listBackups', { params: { id: a.id } }), [a.id]);
  const [restoreJob, setRestoreJob] = useState<string | null>(null);
  const restoring = useLoad<AddonJob | null>(() => (restoreJob ? call('getAddonJob', { params: { id: a.id, job: restoreJob } }) : Promise.resolve(null)), [a.id, restoreJob]);
  // Each job's running/succeeded/failed is an event carrying data.addon (controllers/backups/jobs.ts).
  useEvents(
    () => {
      list.reload();
      restoring.reload();
    },
    (e) => e.data?.addon === a.id,
  );
  const act = useAction();
  const items = list.data?.items ?? [];
  return (
    <>
      <Section
        title="Backups"
        actions={
          canChange && (
            <button type="button" className="primary" disabled={act.busy || a.status !== 'running'} onClick={() => act.run(() => call('createBackup', { params: { id: a.id } }).then(list.reload))}>
              Back up now
            </button>
          )
        }
      >
        <p className="muted">
          {a.type === 'postgres' ? 'pg_dump -Fc' : 'An RDB snapshot'}
          {a.backup_schedule ? `; automatic on ${a.backup_schedule} (UTC), the newest ${a.backup_keep} kept.` : '; taken on demand.'} Each is restored into a
          throwaway container and checked: {a.type === 'postgres' ? <code>{a.verify_query ?? 'a count of the user tables'}</code> : 'DBSIZE'}.
        </p>
        {a.pitr?.verified && (
          <p aria-label="Base backup check">
            Newest base backup ({ago(a.pitr.verified.base_at)}): <Status value={a.pitr.verified.status} />{' '}
            <span className="muted small">{a.pitr.verified.status === 'ok' ? `answered ${a.pitr.verified.answer}` : a.pitr.verified.error}</span>
          </p>
        )}
        <ErrorText error={list.error} />
        <ErrorText error={act.error} />
        {restoring.data && (
          <p role="status">
            Restore of {restoring.data.backup}: <Status value={restoring.data.status} />
            {restoring.data.reason && <span className="error"> {restoring.data.reason}</span>}
          </p>
        )}
        <table>
          <thead>
            <tr>
              <th>Backup</th>
              <th>Taken</th>
              <th>Trigger</th>
              <th>Status</th>
              <th>Size</th>
              <th>Verified</th>
              <th>Actions</th>
            </tr>
          </thead>
          <tbody>
            {items.map((b) => (
              <tr key={b.id} aria-label={`Backup ${b.id}`}>
                <td className="mono">{b.id}</td>
                <td>{ago(b.created_at)}</td>
                <td>{b.trigger}</td>
                <td>
                  <Status value={b.status} />
                  {b.reason && <div className="muted small">{b.reason}</div>}
                </td>
                <td>{bytes(b.size_bytes)}</td>
                <td aria-label={`Verified ${b.id}`}>
                  {b.verified ? (
                    <>
                      <Status value={b.verified.status} />
                      {b.verified.status === 'ok' && <div className="muted small mono">answered {b.verified.answer}</div>}
                      {b.verified.error && <div className="muted small">{b.verified.error}</div>}
                    </>
                  ) : (
                    '—'
                  )}
                </td>
                <td>
                  {b.status === 'succeeded' && (
                    <>
                      <a href={backupDownloadUrl(a.id, b.id)} download aria-label={`Download ${b.id}`}>
                        Download
                      </a>{' '}
                      {canChange && (
                        <ConfirmButton
                          label="Restore"
                          name={`Restore ${b.id}`}
                          question={`Restore ${b.id} into ${a.name}? Its current data is replaced.`}
                          typed={a.name}
                          danger
                          onConfirm={() => call('restoreBackup', { params: { id: a.id }, body: { backup: b.id } }).then((j) => (setRestoreJob(j.id), reload()))}
                        />
                      )}
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {list.data && items.length === 0 && <p>No backups yet.</p>}
      </Section>
      {canChange && <BackupSettings addon={a} canChange reload={reload} />}
    </>
  );
}

function BackupSettings({ addon: a, reload }: AddonProps) {
  const [schedule, setSchedule] = useState(a.backup_schedule ?? '');
  const [keep, setKeep] = useState(String(a.backup_keep));
  const [note, setNote] = useState('');
  const act = useAction();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void act.run(async () => {
      await call('updateAddon', { params: { id: a.id }, query: {}, body: { backup_schedule: schedule.trim() ? schedule.trim() : null, backup_keep: Number(keep) } });
      setNote('Saved.');
      reload();
    });
  };
  return (
    <Section title="Automatic backups">
      <form onSubmit={submit} className="inline" aria-label="Automatic backups">
        <Field label="Schedule (cron, UTC; empty: none)" value={schedule} onChange={setSchedule} placeholder="0 3 * * *" field="backup_schedule" error={act.error} />
        <Field label="Backups kept" value={keep} onChange={setKeep} inputMode="numeric" field="backup_keep" error={act.error} />
        <button type="submit" disabled={act.busy}>
          Save backup settings
        </button>
        {note && <span role="status">{note}</span>}
        <ErrorText error={act.error} fields={['backup_schedule', 'backup_keep']} />
      </form>
    </Section>
  );
}
