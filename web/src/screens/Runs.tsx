import { useEffect, useState, type FormEvent } from 'react';
import { ApiError, call, stream, type Run } from '../api';
import { useEvents } from '../live';
import { ConfirmButton, ErrorText, Field, Section, Status, ago, useAction, useLoad } from '../ui';
import { formatArgv, parseArgv } from '../../../src/lib/argv.js';
import type { AppProps } from './app-props';

/** A command typed on one line, as the API's argv; a JSON array that is not one is the field's error. */
function argvOf(text: string, field: string): string[] {
  try {
    return parseArgv(text);
  } catch (err) {
    throw new ApiError(400, 'validation_failed', (err as Error).message, field);
  }
}

const KIND = { run: 'one-off', release: 'release command', cron: 'scheduled' } as const;

function duration(r: { created_at: string; finished_at: string | null }) {
  return r.finished_at ? `${Math.max(0, (Date.parse(r.finished_at) - Date.parse(r.created_at)) / 1000).toFixed(1)} s` : '—';
}

/** One-off commands and release commands of the app: status, exit code, output; run one (no terminal: the CLI's `berth run -it` is for that). */
export function Runs({ app, canChange }: AppProps) {
  // A run's output is what the command printed, secrets included: runs are for developers (docs/security.md).
  const list = useLoad(() => (canChange ? call('listRuns', { params: { id: app.id } }) : Promise.resolve({ items: [] })), [app.id, canChange]);
  useEvents(() => list.reload(), (e) => e.app_id === app.id && (e.kind.startsWith('run.') || e.kind.startsWith('cron.') || e.kind === 'release.command'));
  const [shown, setShown] = useState<string | null>(null);
  const [command, setCommand] = useState('');
  const act = useAction();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void act.run(async () => {
      const r = await call('runCommand', { params: { id: app.id }, body: { command: argvOf(command, 'command') } });
      setCommand('');
      setShown(r.id);
      list.reload();
    });
  };
  const items = list.data?.items ?? [];
  return (
    <Section title="Runs">
      <p className="muted">One-off commands, release commands and scheduled runs, in containers of a release, newest first.</p>
      {!canChange && <p className="muted">Runs and their output are shown to developers and owners of the project: commands may print secrets.</p>}
      {canChange && (
        <form onSubmit={submit} className="inline" aria-label="Run a command">
          <Field label="Command" value={command} onChange={setCommand} required placeholder="npm run migrate" field="command" error={act.error} />
          <button type="submit" className="primary" disabled={act.busy}>
            Run
          </button>
          <ErrorText error={act.error} fields={['command']} />
        </form>
      )}
      <ErrorText error={list.error} />
      {shown && <RunOutput key={shown} id={shown} />}
      <table>
        <thead>
          <tr>
            <th>Started</th>
            <th>Kind</th>
            <th>Command</th>
            <th>Release</th>
            <th>Status</th>
            <th>Exit code</th>
            <th>Duration</th>
            <th>Output</th>
          </tr>
        </thead>
        <tbody>
          {items.map((r) => (
            <tr key={r.id} aria-label={`Run ${r.id}`}>
              <td>{ago(r.created_at)}</td>
              <td>{KIND[r.kind]}</td>
              <td className="mono value">{formatArgv(r.command)}</td>
              <td>v{r.release}</td>
              <td>
                <Status value={r.status} />
                {r.reason && <div className="muted small">{r.reason}</div>}
              </td>
              <td>{r.exit_code ?? '—'}</td>
              <td>{duration(r)}</td>
              <td>
                {!r.tty && (
                  <OutputToggle id={r.id} shown={shown} setShown={setShown} />
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {list.data && items.length === 0 && <p>No runs yet.</p>}
    </Section>
  );
}

/** "Output" on screen; its name says which run, for screen readers and tests. */
function OutputToggle({ id, shown, setShown }: { id: string; shown: string | null; setShown: (id: string | null) => void }) {
  return (
    <button type="button" aria-expanded={shown === id} aria-label={`${shown === id ? 'Hide' : 'Show'} output of ${id}`} onClick={() => setShown(shown === id ? null : id)}>
      {shown === id ? 'Hide output' : 'Output'}
    </button>
  );
}

/** A run's output: what it wrote so far, then live until it exits (the contract's followRun). */
export function RunOutput({ id }: { id: string }) {
  const [text, setText] = useState('');
  const [end, setEnd] = useState<Run | null>(null);
  const [gone, setGone] = useState(false);
  useEffect(
    () =>
      stream(
        'followRun',
        { params: { id } },
        (m) => (m.type === 'output' ? setText((t) => t + m.text) : setEnd(m.run)),
        () => setGone(true),
      ),
    [id],
  );
  return (
    <section aria-label={`Output of ${id}`}>
      <h3>
        Output of {id} {end ? <Status value={end.status} /> : gone ? null : <Status value="running" />}
        {end && <span className="muted"> exit code {end.exit_code ?? '—'}</span>}
      </h3>
      <pre className="output" role="log" aria-label={`Output of ${id} text`}>
        {text || (end || gone ? '(no output)' : '')}
      </pre>
      {end?.reason && <p className="muted">{end.reason}</p>}
    </section>
  );
}

/** Scheduled commands (cron, UTC): next firing, the last runs with exit codes and output; add and remove. */
export function Cron({ app, canChange }: AppProps) {
  const list = useLoad(() => call('listCron', { params: { id: app.id } }), [app.id]);
  useEvents(() => list.reload(), (e) => e.app_id === app.id && (e.kind.startsWith('run.') || e.kind.startsWith('cron.')));
  const [schedule, setSchedule] = useState('');
  const [command, setCommand] = useState('');
  const [shown, setShown] = useState<string | null>(null);
  const act = useAction();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void act.run(async () => {
      await call('addCron', { params: { id: app.id }, body: { schedule, command: argvOf(command, 'command') } });
      setSchedule('');
      setCommand('');
      list.reload();
    });
  };
  const items = list.data?.items ?? [];
  return (
    <Section title="Scheduled commands">
      <p className="muted">Each firing runs the command in a new container of the live release; a run never overlaps the previous one.</p>
      <ErrorText error={list.error} />
      <table>
        <thead>
          <tr>
            <th>Schedule (UTC)</th>
            <th>Command</th>
            <th>Next run</th>
            <th>Last runs</th>
            {canChange && <th>Actions</th>}
          </tr>
        </thead>
        <tbody>
          {items.map((c) => (
            <tr key={c.id} aria-label={`Scheduled ${c.schedule}`}>
              <td className="mono">{c.schedule}</td>
              <td className="mono value">{formatArgv(c.command)}</td>
              <td>{new Date(c.next_at).toISOString().replace('T', ' ').slice(0, 19)}</td>
              <td>
                <ul className="runs-mini">
                  {c.last_runs.map((r) => (
                    <li key={r.id}>
                      <Status value={r.status} /> {r.exit_code !== null && `exit ${r.exit_code} · `}
                      {ago(r.created_at)}
                      {r.reason && <span className="muted small"> · {r.reason}</span>}{' '}
                      <OutputToggle id={r.id} shown={shown} setShown={setShown} />
                    </li>
                  ))}
                </ul>
                {c.last_runs.length === 0 && <span className="muted">none yet</span>}
              </td>
              {canChange && (
                <td>
                  <ConfirmButton
                    label="Remove"
                    name={`Remove scheduled ${formatArgv(c.command)}`}
                    question={`Remove the scheduled command ${formatArgv(c.command)}?`}
                    danger
                    onConfirm={() => call('removeCron', { params: { id: app.id, cron: c.id } }).then(list.reload)}
                  />
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      {list.data && items.length === 0 && <p>No scheduled commands.</p>}
      {shown && <RunOutput key={shown} id={shown} />}
      {canChange && (
        <form onSubmit={submit} className="inline" aria-label="Schedule a command">
          <Field label="Schedule" value={schedule} onChange={setSchedule} required placeholder="0 * * * *" field="schedule" error={act.error} />
          <Field label="Command" value={command} onChange={setCommand} required placeholder="npm run task" field="command" error={act.error} />
          <button type="submit" className="primary" disabled={act.busy}>
            Add scheduled command
          </button>
          <ErrorText error={act.error} fields={['schedule', 'command']} />
        </form>
      )}
    </Section>
  );
}
