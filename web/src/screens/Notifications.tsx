import { useState, type FormEvent } from 'react';
import { call, type RouteOutput } from '../api';
import { ConfirmButton, ErrorText, Field, SelectField, Section, ago, useAction, useLoad } from '../ui';
import type { AppProps } from './app-props';

type Target = RouteOutput<'addNotification'>;

/** Where the app's deploys, failures and crashes are told: Slack or a signed webhook; the URL is shown only by its host. */
export function Notifications({ app, canChange }: AppProps) {
  const list = useLoad(() => call('listNotifications', { params: { id: app.id } }), [app.id]);
  const [kind, setKind] = useState<'slack' | 'webhook'>('slack');
  const [url, setUrl] = useState('');
  const [added, setAdded] = useState<Target | null>(null);
  const act = useAction();
  const add = (e: FormEvent) => {
    e.preventDefault();
    void act.run(async () => {
      setAdded(await call('addNotification', { params: { id: app.id }, body: { kind, url } }));
      setUrl('');
      await list.reload();
    });
  };
  return (
    <Section title="Notifications">
      <ErrorText error={list.error} />
      {added?.secret && (
        <p role="status">
          Webhook added. Its signing secret, shown once: <code>{added.secret}</code>
        </p>
      )}
      <ul className="plain">
        {list.data?.items.map((t) => (
          <li key={t.id}>
            {t.kind} <code>{t.url}</code> <span className="muted">({t.events.join(', ')}; added {ago(t.created_at)})</span>{' '}
            {canChange && <ConfirmButton label={`Remove ${t.url}`} question={`Stop telling ${t.url}?`} danger onConfirm={() => call('removeNotification', { params: { id: app.id, target: t.id } }).then(list.reload)} />}
          </li>
        ))}
      </ul>
      {list.data?.items.length === 0 && <p className="muted">No notifications.</p>}
      {canChange && (
        <form onSubmit={add} className="inline" aria-label="Add a notification">
          <SelectField label="Kind" value={kind} onChange={(k) => setKind(k as 'slack' | 'webhook')} options={[['slack', 'Slack incoming webhook'], ['webhook', 'signed webhook']]} field="kind" error={act.error} />
          <Field label="Notification URL" value={url} onChange={setUrl} required field="url" error={act.error} size={40} />
          <button type="submit" disabled={act.busy}>
            Add notification
          </button>
        </form>
      )}
      <ErrorText error={act.error} fields={['kind', 'url']} />
    </Section>
  );
}
