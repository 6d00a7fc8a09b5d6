import { useEffect, useState, type FormEvent } from 'react';
import { ApiError, call } from '../api';
import { ConfirmButton, ErrorText, Field, SelectField, Section, useAction, useLoad } from '../ui';
import type { AppProps } from './app-props';

const FIELDS = ['source.repo_url', 'source.branch', 'source.vendor', 'source.previews', 'source.preview_secrets'];

/** The app's git source (what its push webhook and `berth source build` build): PUT /apps/{id} with `source`. */
export function SourceSettings({ app, canChange }: AppProps) {
  // No source yet is a 404: the form starts empty then.
  const source = useLoad(() => call('getAppSource', { params: { id: app.id } }).catch((e) => (e instanceof ApiError && e.status === 404 ? null : Promise.reject(e))), [app.id]);
  const vendors = useLoad(() => (canChange ? call('listVendors') : Promise.resolve({ items: [] })), [canChange]);
  const [v, setV] = useState({ repo: '', branch: 'main', vendor: '', previews: false, secrets: false });
  const [note, setNote] = useState('');
  const act = useAction();
  const s = source.data;
  useEffect(() => {
    if (s) setV({ repo: s.repo_url, branch: s.branch, vendor: s.vendor?.id ?? '', previews: s.previews, secrets: s.preview_secrets });
  }, [s]);
  const save = (e: FormEvent) => {
    e.preventDefault();
    setNote('');
    void act.run(async () => {
      const body = { source: { repo_url: v.repo, branch: v.branch, vendor: v.vendor || null, previews: v.previews, preview_secrets: v.secrets } };
      await call('updateApp', { params: { id: app.id }, body });
      setNote('Saved: the next push to this branch (or berth source build) builds it.');
      await source.reload();
    });
  };
  const options: [string, string][] = [['', 'public repository (no account)'], ...(vendors.data?.items ?? []).map((x): [string, string] => [x.id, `${x.vendor} ${x.username}@${x.host}`])];
  return (
    <Section title="Git source">
      <ErrorText error={source.error} />
      {s && (
        <p className="muted">
          Push webhook: <code>{s.webhook_url}</code> (its secret: <code>berth webhook {app.slug}</code>)
        </p>
      )}
      <form onSubmit={save} aria-label="Git source">
        <div className="inline">
          <Field label="Repository URL" value={v.repo} onChange={(repo) => setV({ ...v, repo })} field="source.repo_url" error={act.error} disabled={!canChange} size={40} />
          <Field label="Source branch" value={v.branch} onChange={(branch) => setV({ ...v, branch })} field="source.branch" error={act.error} disabled={!canChange} />
          <SelectField label="Account" value={v.vendor} onChange={(vendor) => setV({ ...v, vendor })} options={options} field="source.vendor" error={act.error} disabled={!canChange} />
        </div>
        <label className="check">
          <input type="checkbox" checked={v.previews} disabled={!canChange} onChange={(e) => setV({ ...v, previews: e.target.checked })} /> Preview apps for pull requests
        </label>
        <label className="check">
          <input type="checkbox" checked={v.secrets} disabled={!canChange} onChange={(e) => setV({ ...v, secrets: e.target.checked })} /> Previews get the secret config vars
        </label>
        {canChange && (
          <p className="actions">
            <button type="submit" className="primary" disabled={act.busy}>
              Save git source
            </button>
            {s && <ConfirmButton label="Remove git source" question="Forget the git source? Pushes to the webhook stop building." onConfirm={() => call('updateApp', { params: { id: app.id }, body: { source: null } }).then(source.reload)} />}
          </p>
        )}
        {note && <p role="status">{note}</p>}
        <ErrorText error={act.error} fields={FIELDS} />
      </form>
    </Section>
  );
}
