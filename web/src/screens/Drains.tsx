import { useState, type FormEvent } from 'react';
import { call } from '../api';
import { ConfirmButton, ErrorText, Field, Section, ago, useAction, useEvery, useLoad } from '../ui';
import type { AppProps } from './app-props';

/** Log drains (docs/logs.md): where the app's lines also go, and whether they get there. */
export function Drains({ app, canChange }: AppProps) {
  const drains = useLoad(() => call('listDrains', { params: { id: app.id } }), [app.id]);
  useEvery(() => void drains.reload(), 5000);
  const [url, setUrl] = useState('');
  const [ca, setCa] = useState('');
  const act = useAction();
  const add = (e: FormEvent) => {
    e.preventDefault();
    void act.run(async () => {
      await call('addDrain', { params: { id: app.id }, body: { url, ...(ca.trim() ? { ca } : {}) } });
      setUrl('');
      setCa('');
      await drains.reload();
    });
  };
  return (
    <Section title="Log drains">
      <ErrorText error={drains.error} />
      <ul className="plain drains">
        {drains.data?.items.map((d) => (
          <li key={d.id} aria-label={`Drain ${d.url}`}>
            <strong>{d.url}</strong> <span className="muted">{d.kind === 'syslog' ? 'syslog over TLS' : 'HTTPS NDJSON'}{d.ca ? ', own CA' : ''}</span>
            <p className="muted">
              {d.status.sent} lines sent, last {ago(d.status.last_success_at)}
              {d.status.dropped > 0 && <>; {d.status.dropped} dropped while the receiver was away</>}
            </p>
            {d.status.last_error && (d.status.last_success_at ?? '') < (d.status.last_error_at ?? '') && <p className="error">Failing: {d.status.last_error} ({ago(d.status.last_error_at)})</p>}
            {canChange && (
              <span className="actions">
                <ConfirmButton label="Remove" name={`Remove drain ${d.url}`} question={`Stop sending logs to ${d.url}?`} danger onConfirm={() => call('removeDrain', { params: { id: app.id, drain: d.id } }).then(drains.reload)} />
              </span>
            )}
          </li>
        ))}
      </ul>
      {drains.data?.items.length === 0 && <p>No log drains: lines are kept by the engine only.</p>}
      {canChange && (
        <form onSubmit={add} aria-label="Add a log drain">
          <Field label="Drain URL" placeholder="syslog+tls://host:port or https://host/path" value={url} onChange={setUrl} field="url" error={act.error} required />
          <label>
            Receiver's CA (PEM, optional)
            <textarea value={ca} onChange={(e) => setCa(e.target.value)} rows={3} />
          </label>
          <button type="submit" className="primary" disabled={act.busy}>
            Add drain
          </button>
          <ErrorText error={act.error} fields={['url']} />
        </form>
      )}
    </Section>
  );
}
