import { useEffect, useState } from 'react';
import { call, type App } from '../api';
import { useEvents } from '../live';
import { dismiss, useTracked, type Tracked } from '../progress';
import { ErrorText, useEvery, useLoad } from '../ui';
import { stepsOf } from './action-steps';

/** The last action on this app, followed step by step until it is done or says why it failed. */
export function ActionProgress({ app }: { app: App }) {
  const t = useTracked(app.id);
  return t ? <Follow key={t.started} app={app} t={t} /> : null;
}

function Follow({ app, t }: { app: App; t: Tracked }) {
  const list = useLoad(() => call('listContainers', { query: { app: app.id } }), [app.id]);
  const version = 'version' in t ? t.version : null;
  const release = useLoad(() => (version ? call('getRelease', { params: { id: app.id, version } }) : Promise.resolve(null)), [app.id, version]);
  const [endedAt, setEndedAt] = useState<number | null>(null);
  const p = stepsOf(t, app, list.data?.items ?? [], release.data ?? null);
  // A failed release is final; a crashing replica may still recover, so only a done action stops the watch.
  const ended = p.done || (p.failure !== null && version !== null);
  const refresh = () => void Promise.all([list.reload(), release.reload()]);
  useEvents(refresh, (e) => e.app_id === app.id);
  // Joining and leaving rotation is no event: look again each second until it ends.
  useEvery(refresh, 1000, !ended);
  useEffect(() => {
    if (ended && endedAt === null && list.data) setEndedAt(performance.now());
  }, [ended, endedAt, list.data]);
  const secs = endedAt === null ? null : ((endedAt - t.started) / 1000).toFixed(1);
  return (
    <section aria-label="Action progress" className="progress">
      <div role="status" aria-live="polite">
        <strong>{p.title}</strong>
        <ol className="plain">
          {p.steps.map((s) => (
            <li key={s.text.split(':')[0]} className={s.done ? 'done' : 'active'}>
              {s.done ? '✓' : '…'} {s.text}
            </li>
          ))}
        </ol>
        {p.done && secs && <p>Done in {secs} s</p>}
        {p.failure && !p.done && <p className="error">{version !== null ? `Failed: ${p.failure}` : `Not healthy yet: ${p.failure}`}</p>}
      </div>
      <ErrorText error={list.error ?? release.error} />
      {ended && (
        <button type="button" onClick={dismiss}>
          Dismiss
        </button>
      )}
    </section>
  );
}
