import { useEffect, useState, type FormEvent } from 'react';
import { call, type App } from '../api';
import { ErrorText, useAction, useLoad } from '../ui';

/**
 * The Procfile process types besides web (worker, ...) and their replica counts; web's count is the
 * Scale form beside it. Shown only when the app's release has such types.
 */
export function Formation({ app: a, reload }: { app: App; reload: () => Promise<void> | void }) {
  const formation = useLoad(() => call('getFormation', { params: { id: a.id } }), [a.id, a.release]);
  const [counts, setCounts] = useState<Record<string, string>>({});
  const act = useAction();
  useEffect(() => {
    if (formation.data) setCounts(Object.fromEntries(Object.entries(formation.data).map(([t, n]) => [t, String(n)])));
  }, [formation.data]);
  const types = Object.keys(formation.data ?? {}).filter((t) => t !== 'web');
  if (!types.length) return null;
  const save = (e: FormEvent) => {
    e.preventDefault();
    const body = Object.fromEntries(types.map((t) => [t, Number(counts[t])]));
    void act.run(() => call('updateFormation', { params: { id: a.id }, body }).then(() => Promise.all([formation.reload(), reload()])));
  };
  return (
    <form onSubmit={save} className="inline" aria-label="Process types">
      {types.map((t) => (
        <label key={t}>
          {t}
          <input type="number" min={0} max={100} value={counts[t] ?? ''} onChange={(e) => setCounts({ ...counts, [t]: e.target.value })} />
        </label>
      ))}
      <button type="submit" disabled={act.busy}>
        Scale process types
      </button>
      <ErrorText error={act.error} />
    </form>
  );
}
