import { useState, type FormEvent } from 'react';
import { Link } from 'react-router-dom';
import { call, type Container } from '../api';
import { useEvents } from '../live';
import { ConfirmButton, ErrorText, Section, Status, ago, plural, useAction, useEvery, useLoad, Field } from '../ui';
import { RollbackButton } from './Rollback';
import type { AppProps } from './app-props';
import { LogView } from './Logs';

/** A rollback target: a release that ran or may run, neither the live one nor one still on its way. */
const canRollBackTo = (r: { current: boolean; status: string }) => !r.current && !['failed', 'pending', 'deploying'].includes(r.status);

/** Releases: who/what/when, the failed reason with the failing replica's log, rollback (confirmed with what it changes). */
export function Deploys({ app, canChange, reload }: AppProps) {
  const releases = useLoad(() => call('listReleases', { params: { id: app.id } }), [app.id]);
  useEvents(() => releases.reload(), (e) => e.app_id === app.id);
  return (
    <Section title="Releases">
      <ErrorText error={releases.error} />
      <ol className="releases">
        {releases.data?.items.map((r) => (
          <li key={r.id} className={`release release-${r.status}`} aria-label={`Release v${r.version}`}>
            <div className="release-head">
              {/* Its status says "live" already; the badge only for a live release whose status says otherwise. */}
              <strong>v{r.version}</strong> <Status value={r.status} /> {r.current && r.status !== 'live' && <span className="badge">live</span>}
              <span className="muted">
                {r.description} · {plural(r.config.replicas, 'replica')} · {ago(r.created_at)}
              </span>
              <code className="mono">{r.image}</code>
              {canChange && canRollBackTo(r) && <RollbackButton app={app} release={r} done={() => (void releases.reload(), reload())} />}
            </div>
            {r.reason && (
              <div className="reason">
                <p>Why it failed:</p>
                <pre>{r.reason}</pre>
              </div>
            )}
          </li>
        ))}
      </ol>
      {releases.data?.items.length === 0 && <p>No releases yet: deploy an image, a git branch or an archive.</p>}
    </Section>
  );
}

export function Builds({ app }: AppProps) {
  const builds = useLoad(() => call('listBuilds', { params: { id: app.id }, query: { limit: 50 } }), [app.id]);
  useEvents(() => builds.reload(), (e) => e.app_id === app.id);
  return (
    <Section title="Builds">
      <ErrorText error={builds.error} />
      <table>
        <thead>
          <tr>
            <th>Build</th>
            <th>Status</th>
            <th>Source</th>
            <th>Commit</th>
            <th>Started</th>
            <th>Duration</th>
          </tr>
        </thead>
        <tbody>
          {builds.data?.items.map((b) => (
            <tr key={b.id}>
              <td>
                <Link to={`/builds/${b.id}`}>#{b.number}</Link>
              </td>
              <td>
                <Status value={b.status} />
                {b.queue_position ? ` (${b.queue_position} in queue)` : ''}
              </td>
              <td>{b.source}</td>
              <td>{b.commit_message ?? b.commit_sha?.slice(0, 8) ?? '—'}</td>
              <td>{ago(b.started_at ?? b.created_at)}</td>
              <td>{b.duration_s === null ? '—' : `${b.duration_s.toFixed(1)} s`}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {builds.data?.items.length === 0 && <p>No builds yet.</p>}
    </Section>
  );
}

/** Config vars: each change makes a release when the app is deployed; secret values are write-only. */
export function Config({ app, canChange, reload }: AppProps) {
  const [key, setKey] = useState('');
  const [value, setValue] = useState('');
  const [secret, setSecret] = useState(false);
  const [editing, setEditing] = useState<string | null>(null);
  const [note, setNote] = useState('');
  const act = useAction();
  const save = (k: string, v: string, s: boolean) =>
    act.run(async () => {
      const res = await call('setEnv', { params: { id: app.id }, body: { set: { [k]: v }, ...(s ? { secret: [k] } : {}) } });
      setNote(res.release ? `Saved: release v${res.release.version} is rolling out with it.` : 'Saved: it takes effect at the next deploy.');
      setKey('');
      setValue('');
      setSecret(false);
      setEditing(null);
      reload();
    });
  const add = (e: FormEvent) => {
    e.preventDefault();
    void save(key, value, secret);
  };
  const keys = Object.keys(app.env).sort();
  return (
    <Section title="Config vars">
      <p className="muted">Each change makes a new release of a deployed app.</p>
      {note && <p role="status">{note}</p>}
      <table>
        <thead>
          <tr>
            <th>Name</th>
            <th>Value</th>
            {canChange && <th>Actions</th>}
          </tr>
        </thead>
        <tbody>
          {keys.map((k) => {
            const isSecret = app.secret_env.includes(k);
            return (
              <tr key={k}>
                <td className="mono">{k}</td>
                <td className="mono value">
                  {editing === k ? (
                    <EditValue name={k} secret={isSecret} onSave={(v) => save(k, v, isSecret)} onCancel={() => setEditing(null)} />
                  ) : isSecret ? (
                    <span title="secret: write-only">•••••••• (secret)</span>
                  ) : (
                    app.env[k]
                  )}
                </td>
                {canChange && (
                  <td>
                    <button type="button" onClick={() => setEditing(k)}>
                      Edit {k}
                    </button>
                    <ConfirmButton
                      label={`Remove ${k}`}
                      question={`Remove ${k}? This makes a new release.`}
                      danger
                      onConfirm={() => call('setEnv', { params: { id: app.id }, body: { unset: [k] } }).then(reload)}
                    />
                  </td>
                )}
              </tr>
            );
          })}
        </tbody>
      </table>
      {keys.length === 0 && <p>No config vars.</p>}
      {canChange && (
        <form onSubmit={add} className="inline" aria-label="Add a config var">
          <Field label="Name" value={key} onChange={setKey} required pattern="[A-Za-z_][A-Za-z0-9_]*" />
          <Field label="Value" value={value} onChange={setValue} type={secret ? 'password' : 'text'} />
          <label className="check">
            <input type="checkbox" checked={secret} onChange={(e) => setSecret(e.target.checked)} /> Secret
          </label>
          <button type="submit" className="primary" disabled={act.busy}>
            Set config var
          </button>
        </form>
      )}
      <ErrorText error={act.error} />
    </Section>
  );
}

function EditValue({ name, secret, onSave, onCancel }: { name: string; secret: boolean; onSave: (v: string) => void; onCancel: () => void }) {
  const [v, setV] = useState('');
  return (
    <form
      className="inline"
      onSubmit={(e) => {
        e.preventDefault();
        onSave(v);
      }}
    >
      <label>
        New value of {name}
        <input value={v} onChange={(e) => setV(e.target.value)} type={secret ? 'password' : 'text'} autoFocus />
      </label>
      <button type="submit">Save</button>
      <button type="button" onClick={onCancel}>
        Cancel
      </button>
    </form>
  );
}

export function Domains({ app, canChange }: AppProps) {
  const domains = useLoad(() => call('listDomains', { params: { id: app.id } }), [app.id]);
  const [hostname, setHostname] = useState('');
  const act = useAction();
  const add = (e: FormEvent) => {
    e.preventDefault();
    void act.run(async () => {
      await call('addDomain', { params: { id: app.id }, body: { hostname } });
      setHostname('');
      domains.reload();
    });
  };
  return (
    <Section title="Custom domains">
      <ErrorText error={domains.error} />
      <ul className="plain domains">
        {domains.data?.items.map((d) => (
          <li key={d.hostname} aria-label={d.hostname}>
            <strong>{d.hostname}</strong> <Status value={d.verified ? 'verified' : 'unverified'} />
            {d.verified_at && <span className="muted"> since {ago(d.verified_at)}</span>}
            <p className="muted">Certificate: {d.verified ? 'issued by the router for this hostname (HTTPS)' : 'issued once the domain is verified'}</p>
            {!d.verified && (
              <>
                {d.verification.methods.includes('dns') && (
                  <p>
                    Prove the name is yours: a TXT record <code>{d.verification.txt.name}</code> with the value <code>{d.verification.txt.value}</code>.
                  </p>
                )}
                <p>
                  DNS: point <code>{d.hostname}</code> at this server (an A/AAAA record, or a CNAME to <code>{new URL(app.url).hostname}</code>).
                  {d.verification.methods.includes('http') && (
                    <>
                      {' '}It answers <code>{d.verification.path}</code> with <code>{d.verification.token}</code> for this name.
                    </>
                  )}
                </p>
                <p className="muted">{d.verification.instructions}</p>
                {d.message && <p className="error">Last check: {d.message}</p>}
              </>
            )}
            {canChange && (
              <span className="actions">
                {!d.verified && (
                  <button type="button" onClick={() => act.run(() => call('verifyDomain', { params: { id: app.id, hostname: d.hostname } }).then(domains.reload))}>
                    Verify {d.hostname}
                  </button>
                )}
                <ConfirmButton label={`Remove ${d.hostname}`} question={`Remove ${d.hostname}?`} danger onConfirm={() => call('removeDomain', { params: { id: app.id, hostname: d.hostname } }).then(domains.reload)} />
              </span>
            )}
          </li>
        ))}
      </ul>
      {domains.data?.items.length === 0 && <p>No custom domains.</p>}
      {canChange && (
        <form onSubmit={add} className="inline" aria-label="Add a domain">
          <Field label="Hostname" value={hostname} onChange={setHostname} required />
          <button type="submit" className="primary" disabled={act.busy}>
            Add domain
          </button>
        </form>
      )}
      <ErrorText error={act.error} />
    </Section>
  );
}

export function Containers({ app, canChange }: AppProps) {
  const list = useLoad(() => call('listContainers', { query: { app: app.id } }), [app.id]);
  useEvents(() => list.reload(), (e) => e.app_id === app.id);
  const [logsOf, setLogsOf] = useState<Container | null>(null);
  const act = useAction();
  const items = list.data?.items ?? [];
  // Joining or leaving the router's rotation is no event: while a replica is between states, look again.
  const moving = items.some((c) => (c.status === 'healthy') !== c.in_rotation || c.status === 'starting' || c.status === 'draining');
  useEvery(() => void list.reload(), 1000, moving);
  return (
    <Section title="Containers" actions={<span className="muted">{items.filter((c) => c.status === 'healthy').length} healthy</span>}>
      <ErrorText error={list.error} />
      <table>
        <thead>
          <tr>
            <th>Replica</th>
            <th>Type</th>
            <th>Status</th>
            <th>Traffic</th>
            <th>Node</th>
            <th>Address</th>
            <th>Release</th>
            <th>Actions</th>
          </tr>
        </thead>
        <tbody>
          {items.map((c) => (
            <tr key={c.id} aria-label={`Replica ${c.replica}`}>
              <td className="mono">{c.name}</td>
              <td>{c.process_type}</td>
              <td>
                <Status value={c.status} />
                {c.message && <div className="muted small">{c.message}</div>}
              </td>
              <td>{c.in_rotation ? 'in rotation' : 'no traffic'}</td>
              <td>{c.node}</td>
              <td className="mono">{c.address ? `${c.address}:${c.port}` : '—'}</td>
              <td>v{c.release}</td>
              <td>
                <button type="button" onClick={() => setLogsOf(c)}>
                  Logs of {c.name}
                </button>
                {canChange &&
                  (c.status === 'stopped' ? (
                    <button type="button" onClick={() => act.run(() => call('startContainer', { params: { id: c.id } }).then(list.reload))}>
                      Start {c.name}
                    </button>
                  ) : (
                    <ConfirmButton label={`Stop ${c.name}`} question={`Stop ${c.name}?`} onConfirm={() => call('stopContainer', { params: { id: c.id } }).then(list.reload)} />
                  ))}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {items.length === 0 && <p>No containers: the app is not running.</p>}
      <ErrorText error={act.error} />
      {logsOf && <LogView key={logsOf.id} title={`Logs of ${logsOf.name}`} socket={{ name: 'followContainerLogs', input: { params: { id: logsOf.id }, query: { tail: 500 } } }} />}
    </Section>
  );
}
