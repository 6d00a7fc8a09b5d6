import { useState } from 'react';
import { call, type RouteOutput } from '../api';
import { useEvents } from '../live';
import { ErrorText, Section, Status, ago, useAction, useEvery, useLoad, Field } from '../ui';
import type { AppProps } from './app-props';

type Rule = RouteOutput<'listAlerts'>['items'][number];

const fmt = (v: number | null) => (v === null ? '—' : Number.isInteger(v) ? String(v) : v.toFixed(1));

/** One rule: its state and since when; an editor turns it on or off and changes its threshold. */
function RuleRow({ app, rule, canChange, done }: { app: AppProps['app']; rule: Rule; canChange: boolean; done: () => Promise<unknown> }) {
  const [threshold, setThreshold] = useState(String(rule.threshold));
  const act = useAction();
  const save = (change: { enabled?: boolean; threshold?: number | null }) =>
    void act.run(async () => {
      await call('updateAlerts', { params: { id: app.id }, body: { rules: { [rule.rule]: change } } });
      await done();
    });
  const field = `rules.${rule.rule}.threshold`;
  return (
    <tr aria-label={`Alert ${rule.rule}`}>
      <td>
        <strong>{rule.title}</strong>
        <div className="muted">{rule.description}</div>
      </td>
      <td>
        <Status value={rule.status} />
      </td>
      <td title={rule.since ?? ''}>{ago(rule.since)}</td>
      <td>{rule.value === null ? '—' : `${fmt(rule.value)} ${rule.unit}`}</td>
      <td>
        {canChange ? (
          <form
            onSubmit={(e) => {
              e.preventDefault();
              save({ threshold: Number(threshold) });
            }}
          >
            <Field label={`Fires ${rule.fires} (${rule.unit})`} type="number" step="any" value={threshold} onChange={setThreshold} field={field} error={act.error} />
            <button type="submit" disabled={act.busy}>
              Save
            </button>
            <button type="button" disabled={act.busy} onClick={() => save({ enabled: !rule.enabled })}>
              {rule.enabled ? 'Turn off' : 'Turn on'}
            </button>
            <ErrorText error={act.error} fields={[field]} />
          </form>
        ) : (
          `${rule.fires} ${fmt(rule.threshold)} ${rule.unit}`
        )}
      </td>
    </tr>
  );
}

/** The app's alert rules (docs/operations.md, "Alerts"), with each one's state. */
export function Alerts({ app, canChange }: AppProps) {
  const rules = useLoad(() => call('listAlerts', { params: { id: app.id } }), [app.id]);
  useEvery(() => void rules.reload(), 10_000);
  useEvents(() => void rules.reload(), (e) => e.app_id === app.id && e.kind.startsWith('alert'));
  return (
    <Section title="Alerts">
      <ErrorText error={rules.error} />
      <p className="muted">Firing and resolved alerts are told to the app's notification targets.</p>
      <table>
        <thead>
          <tr>
            <th>Rule</th>
            <th>State</th>
            <th>Since</th>
            <th>Value</th>
            <th>Threshold</th>
          </tr>
        </thead>
        <tbody>
          {rules.data?.items.map((r) => (
            <RuleRow key={`${r.rule}-${r.threshold}`} app={app} rule={r} canChange={canChange} done={rules.reload} />
          ))}
        </tbody>
      </table>
    </Section>
  );
}
