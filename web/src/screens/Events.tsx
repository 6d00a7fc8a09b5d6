import { useState } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import { call, type BerthEvent } from '../api';
import { useEvents } from '../live';
import { ErrorText, ago, useLoad } from '../ui';

/** Who caused an event: a user, or Berth's own loop (nothing on events older than actors). */
function Actor({ actor }: { actor: BerthEvent['actor'] }) {
  if (!actor) return null;
  return <span className="muted">{actor.kind === 'user' ? `by ${actor.name}` : `by Berth (${actor.name})`}</span>;
}

/** A live feed of what happened (deploys, crashes, rollbacks, scale), overall or for one app (?app=). */
export function EventsPage() {
  const [params] = useSearchParams();
  const app = params.get('app') ?? undefined;
  const initial = useLoad(() => call('listEvents', { query: { limit: 200, ...(app ? { app } : {}) } }), [app]);
  // ?app= takes a slug; live events name the app by id.
  const appId = useLoad(() => (app ? call('getApp', { params: { id: app } }).then((a) => a.id) : Promise.resolve(null)), [app]);
  const [live, setLive] = useState<BerthEvent[]>([]);
  useEvents(
    (e) => (e ? setLive((l) => [e, ...l].slice(0, 500)) : initial.reload()),
    (e) => !app || e.app_id === appId.data,
  );
  const seen = new Set(live.map((e) => e.id));
  const items = [...live, ...[...(initial.data?.items ?? [])].reverse().filter((e) => !seen.has(e.id))];
  return (
    <>
      <h1>Events{app ? ` of ${app}` : ''}</h1>
      {app && <Link to="/events">All events</Link>}
      <ErrorText error={initial.error} />
      <ol className="events" aria-live="polite">
        {items.map((e) => (
          <li key={e.id}>
            <span className="muted" title={e.created_at}>{ago(e.created_at)}</span>{' '}
            {e.app && (
              <>
                <Link to={`/apps/${encodeURIComponent(e.app.slug)}`}>{e.app.name}</Link>{' '}
              </>
            )}
            <code>{e.kind}</code> {e.message} <Actor actor={e.actor} />
          </li>
        ))}
      </ol>
      {items.length === 0 && <p>Nothing has happened yet.</p>}
    </>
  );
}
