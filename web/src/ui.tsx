import { useCallback, useEffect, useRef, useState, type InputHTMLAttributes, type ReactNode } from 'react';
import { ApiError } from './api';

/** Loads data for a screen; `reload` refetches (live events call it) without blanking what is shown. */
export function useLoad<T>(fn: () => Promise<T>, deps: unknown[]) {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const seq = useRef(0);
  const reload = useCallback(() => {
    const mine = ++seq.current;
    fn().then(
      (data) => mine === seq.current && setState({ data, loading: false }),
      (error) => mine === seq.current && setState((s) => ({ ...s, error, loading: false })),
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  useEffect(() => {
    setState({ loading: true });
    reload();
  }, [reload]);
  return { ...state, reload };
}

export function ErrorText({ error }: { error: unknown }) {
  if (!error) return null;
  const msg = error instanceof ApiError ? error.message : error instanceof Error ? error.message : String(error);
  return (
    <p role="alert" className="error">
      {msg}
    </p>
  );
}

/** Runs an action, shows its error, disables the button while it runs. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = async (fn: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
      return true;
    } catch (err) {
      setError(err);
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run };
}

/** A button that asks first: "Roll back to v3?" [Confirm] [Cancel]. With `typed`, the user types that word to confirm. */
export function ConfirmButton(props: { label: string; question: string; typed?: string; danger?: boolean; onConfirm: () => Promise<unknown> }) {
  const [open, setOpen] = useState(false);
  const [text, setText] = useState('');
  const { busy, error, run } = useAction();
  if (!open) {
    return (
      <button type="button" className={props.danger ? 'danger' : ''} onClick={() => setOpen(true)}>
        {props.label}
      </button>
    );
  }
  const ok = !props.typed || text === props.typed;
  return (
    <span className="confirm" role="group" aria-label={props.question}>
      <span>{props.question}</span>
      {props.typed && (
        <label>
          Type <code>{props.typed}</code> to confirm
          <input value={text} onChange={(e) => setText(e.target.value)} autoFocus />
        </label>
      )}
      <button type="button" className={props.danger ? 'danger' : 'primary'} disabled={!ok || busy} onClick={() => run(props.onConfirm).then((done) => done && setOpen(false))}>
        Confirm
      </button>
      <button type="button" onClick={() => setOpen(false)}>
        Cancel
      </button>
      <ErrorText error={error} />
    </span>
  );
}

export function ago(ts: string | null | undefined): string {
  if (!ts) return '—';
  const s = Math.round((Date.now() - Date.parse(ts)) / 1000);
  if (s < 60) return `${Math.max(s, 0)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(ts).toLocaleDateString();
}

export function Status({ value }: { value: string }) {
  return <span className={`status status-${value.replace(/[^a-z-]/g, '')}`}>{value}</span>;
}

export function Section({ title, children, actions }: { title: string; children: ReactNode; actions?: ReactNode }) {
  return (
    <section aria-label={title}>
      <div className="section-head">
        <h2>{title}</h2>
        {actions}
      </div>
      {children}
    </section>
  );
}

/** A labelled text input (the label names the field for screen readers and tests). */
export function Field({ label, onChange, ...input }: { label: string; value: string; onChange: (v: string) => void } & Omit<InputHTMLAttributes<HTMLInputElement>, 'onChange' | 'value'>) {
  return (
    <label>
      {label}
      <input {...input} onChange={(e) => onChange(e.target.value)} />
    </label>
  );
}
