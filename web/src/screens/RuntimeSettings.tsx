import { useState, type FormEvent } from 'react';
import { call } from '../api';
import { ErrorText, Field, Section, useAction } from '../ui';
import type { AppProps } from './app-props';

const FIELDS = ['port', 'memory', 'cpu', 'health_check.path', 'health_check.timeout_s', 'health_check.grace_s', 'drain_timeout_s', 'auto_deploy'];
/** An empty box is sent as null, so the API's 400 names that field rather than the form guessing. */
const num = (s: string) => (s.trim() === '' ? null : Number(s));

/** Port, memory, CPU, health check, drain timeout and auto-deploy: one save, one PUT /apps/{id}. */
export function RuntimeSettings({ app, canChange, reload }: AppProps) {
  const [v, setV] = useState({
    port: String(app.port),
    memory: String(app.memory),
    cpu: String(app.cpu),
    path: app.health_check.path,
    timeout: String(app.health_check.timeout_s),
    grace: String(app.health_check.grace_s),
    drain: String(app.drain_timeout_s),
  });
  const [autoDeploy, setAutoDeploy] = useState(app.auto_deploy);
  const [note, setNote] = useState('');
  const act = useAction();
  const field = (label: string, key: keyof typeof v, apiField: string, extra: { type?: string; step?: string; size?: number } = { type: 'number' }) => (
    <Field label={label} value={v[key]} onChange={(x) => setV({ ...v, [key]: x })} field={apiField} error={act.error} disabled={!canChange} {...extra} />
  );
  const save = (e: FormEvent) => {
    e.preventDefault();
    setNote('');
    void act.run(async () => {
      const body = {
        port: num(v.port),
        memory: num(v.memory),
        cpu: num(v.cpu),
        health_check: { path: v.path, timeout_s: num(v.timeout), grace_s: num(v.grace) },
        drain_timeout_s: num(v.drain),
        auto_deploy: autoDeploy,
      };
      // Null is what the API refuses by name; the contract's types do not allow it, the server says why.
      await call('updateApp', { params: { id: app.id }, body: body as never });
      // docs/architecture.md, "When settings apply": a release is a snapshot, so most of these wait for the next one.
      setNote('Saved. Auto-deploy and the drain timeout apply at once; port, memory, CPU and the health check with the next release (a deploy, a config var change or a rollback).');
      void reload();
    });
  };
  return (
    <Section title="Runtime">
      <form onSubmit={save} aria-label="Runtime settings">
        <div className="inline">
          {field('Port', 'port', 'port')}
          {field('Memory (MB)', 'memory', 'memory')}
          {field('CPU (cores, 0 = no limit)', 'cpu', 'cpu', { type: 'number', step: '0.1' })}
        </div>
        <h3>Health check</h3>
        <p className="muted">A new replica takes traffic once this path answers 2xx or 3xx; one that does not within the timeout fails the release, and the live one keeps serving.</p>
        <div className="inline">
          {field('Health check path', 'path', 'health_check.path', { size: 24 })}
          {field('Timeout (s)', 'timeout', 'health_check.timeout_s')}
          {field('Grace (s)', 'grace', 'health_check.grace_s')}
          {field('Drain timeout (s)', 'drain', 'drain_timeout_s')}
        </div>
        <label className="check">
          <input type="checkbox" checked={autoDeploy} disabled={!canChange} onChange={(e) => setAutoDeploy(e.target.checked)} /> Auto-deploy: each successful build is deployed
        </label>
        {canChange && (
          <p>
            <button type="submit" className="primary" disabled={act.busy}>
              Save runtime settings
            </button>
          </p>
        )}
        {note && <p role="status">{note}</p>}
        <ErrorText error={act.error} fields={FIELDS} />
      </form>
    </Section>
  );
}
