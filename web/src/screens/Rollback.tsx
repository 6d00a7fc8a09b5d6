import { useEffect, useRef, useState } from 'react';
import { track } from '../progress';
import { call, type App, type Release } from '../api';
import { ErrorText, useAction, useLoad } from '../ui';

/**
 * "Roll back to vN": a dialog that first says what the rollback changes (config vars added, removed,
 * changed; secrets by name only; image and other settings), then rolls back on Confirm.
 */
export function RollbackButton({ app, release, done }: { app: App; release: Release; done: () => void }) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <button type="button" onClick={() => setOpen(true)}>
        Roll back to v{release.version}
      </button>
      {open && <RollbackDialog app={app} release={release} close={() => setOpen(false)} done={done} />}
    </>
  );
}

function RollbackDialog({ app, release, close, done }: { app: App; release: Release; close: () => void; done: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const diff = useLoad(() => call('diffRelease', { params: { id: app.id, version: release.version } }), [app.id, release.version]);
  const act = useAction();
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
  }, []);
  const confirm = () =>
    act.run(async () => {
      const r = await call('rollbackApp', { params: { id: app.id }, body: { release: release.version } });
      track(app.id, { kind: 'rollback', version: r.version, replicas: r.config.replicas });
      done();
      close();
    });
  const d = diff.data;
  const title = `Roll back ${app.name} to v${release.version}?`;
  return (
    <dialog ref={ref} className="dialog" aria-label={title} onClose={close}>
      <h2>{title}</h2>
      <p className="muted">It makes a new release from v{release.version}'s image and config, replacing the app's config now. The scale stays as it is.</p>
      <ErrorText error={diff.error} />
      {!d && !diff.error && <p className="loading">Comparing…</p>}
      {d && (
        <>
          <h3>Config vars</h3>
          {d.env.length === 0 ? (
            <p>No config var changes.</p>
          ) : (
            <ul className="diff" aria-label="Config var changes">
              {d.env.map((c) => (
                <li key={c.key} className={`diff-${c.change}`}>
                  <span className="diff-mark">{c.change === 'added' ? '+' : c.change === 'removed' ? '−' : '~'}</span> <code>{c.key}</code> {c.change}
                  {c.secret ? (
                    <span className="muted"> (secret: value not shown)</span>
                  ) : c.change === 'changed' ? (
                    <span className="mono">
                      : {c.from} → {c.to}
                    </span>
                  ) : (
                    <span className="mono">: {c.from ?? c.to}</span>
                  )}
                </li>
              ))}
            </ul>
          )}
          <h3>Image and settings</h3>
          {d.settings.length === 0 ? (
            <p>No other changes.</p>
          ) : (
            <ul className="diff" aria-label="Setting changes">
              {d.settings.map((c) => (
                <li key={c.setting}>
                  {c.setting}: <span className="mono">{c.from}</span> → <span className="mono">{c.to}</span>
                </li>
              ))}
            </ul>
          )}
        </>
      )}
      <div className="actions">
        <button type="button" className="primary" disabled={!d || act.busy} onClick={confirm}>
          Confirm
        </button>
        <button type="button" onClick={() => ref.current?.close()}>
          Cancel
        </button>
      </div>
      <ErrorText error={act.error} />
    </dialog>
  );
}
