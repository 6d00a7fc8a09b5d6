import { useState, type FormEvent } from 'react';
import { Link } from 'react-router-dom';
import { ApiError, call, type App } from '../api';
import { ErrorText, Field, SelectField, Section, useAction, useLoad } from '../ui';
import { formatArgv, parseArgv } from '../../../src/lib/argv.js';
import type { AppProps } from './app-props';

type Mount = { volume: string; path: string };
const STRATEGIES: App['strategy'][] = ['rolling', 'blue-green', 'recreate'];

/** The app's volume mounts, rollout strategy and release command: one save, one PUT /apps/{id}. */
export function Settings({ app, canChange, reload }: AppProps) {
  const volumes = useLoad(() => call('listVolumes', { query: { project: app.project.id } }), [app.project.id]);
  const [mounts, setMounts] = useState<Mount[]>(app.volumes.map((m) => ({ ...m })));
  const [strategy, setStrategy] = useState(app.strategy);
  const [releaseCommand, setReleaseCommand] = useState(formatArgv(app.release_command));
  const [note, setNote] = useState('');
  const act = useAction();
  const names = (volumes.data?.items ?? []).map((v) => v.name);
  const save = (e: FormEvent) => {
    e.preventDefault();
    setNote('');
    void act.run(async () => {
      let command: string[];
      try {
        command = parseArgv(releaseCommand);
      } catch (err) {
        throw new ApiError(400, 'validation_failed', (err as Error).message, 'release_command');
      }
      const before = app.release;
      await call('updateApp', { params: { id: app.id }, body: { volumes: mounts, strategy, release_command: command } });
      setNote(before ? 'Saved: changed mounts make a new release (see Deploys); the release command runs before the next release takes traffic.' : 'Saved: it takes effect at the first deploy.');
      reload();
    });
  };
  const set = (i: number, m: Partial<Mount>) => setMounts(mounts.map((x, j) => (j === i ? { ...x, ...m } : x)));
  const shownFields = ['strategy', 'release_command', ...mounts.flatMap((_, i) => [`volumes.${i}.volume`, `volumes.${i}.path`])];
  return (
    <Section title="Volumes and release command">
      <form onSubmit={save} aria-label="App settings">
        <h3>Volume mounts</h3>
        <p className="muted">
          Volumes of project <Link to={`/projects/${encodeURIComponent(app.project.name)}/volumes`}>{app.project.name}</Link>, mounted at an absolute path. An app with
          volumes rolls out with the recreate strategy (old replicas stop before new ones start).
        </p>
        <div className="mounts">
          {mounts.map((m, i) => (
            <MountRow key={i} index={i} mount={m} names={names} error={act.error} disabled={!canChange} onChange={(x) => set(i, x)} onRemove={() => setMounts(mounts.filter((_, j) => j !== i))} />
          ))}
          {mounts.length === 0 && <p>No volumes mounted.</p>}
        </div>
        {canChange && (
          <button type="button" disabled={names.length === 0} onClick={() => setMounts([...mounts, { volume: names[0] ?? '', path: '' }])}>
            Add a mount
          </button>
        )}
        {volumes.data && names.length === 0 && <p className="muted">The project has no volumes yet.</p>}
        <div className="inline">
          <SelectField label="Strategy" value={strategy} onChange={(v) => setStrategy(v as App['strategy'])} options={STRATEGIES.map((x) => [x, x])} field="strategy" error={act.error} disabled={!canChange} />
          <Field
            label="Release command"
            value={releaseCommand}
            onChange={setReleaseCommand}
            disabled={!canChange}
            placeholder="npm run migrate"
            field="release_command"
            error={act.error}
            size={40}
          />
        </div>
        <p className="muted">The release command runs once per release, in a container of the new release, before any traffic moves; if it fails, the release fails and the live one keeps serving. Empty: none.</p>
        {canChange && (
          <button type="submit" className="primary" disabled={act.busy}>
            Save settings
          </button>
        )}
        {note && <p role="status">{note}</p>}
        <ErrorText error={act.error} fields={shownFields} />
      </form>
    </Section>
  );
}

function MountRow(props: { index: number; mount: Mount; names: string[]; error: unknown; disabled: boolean; onChange: (m: Partial<Mount>) => void; onRemove: () => void }) {
  const { index: i, mount: m } = props;
  // A mount of a volume that is gone still shows (the API names it), so it can be removed.
  const options = props.names.includes(m.volume) || !m.volume ? props.names : [m.volume, ...props.names];
  return (
    <div className="inline" role="group" aria-label={`Mount ${i + 1}`}>
      <SelectField label="Volume" value={m.volume} onChange={(volume) => props.onChange({ volume })} options={options.map((n) => [n, n])} field={`volumes.${i}.volume`} error={props.error} disabled={props.disabled} />
      <Field label="Mount path" value={m.path} onChange={(path) => props.onChange({ path })} disabled={props.disabled} placeholder="/data" field={`volumes.${i}.path`} error={props.error} />
      {!props.disabled && (
        <button type="button" onClick={props.onRemove}>
          Remove mount {i + 1}
        </button>
      )}
    </div>
  );
}
