import { useCallback, useEffect, useId, useRef, useState, type InputHTMLAttributes, type ReactNode } from 'react';
import { Link } from 'react-router-dom';
import { ApiError } from './api';

/** Loads data for a screen; `reload` refetches (live events call it) without blanking what is shown. */
export function useLoad<T>(fn: () => Promise<T>, deps: unknown[]) {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const seq = useRef(0);
  // Resolves once the new data is shown, so an action that ends with a reload (a revoke, a delete)
  // closes its confirmation only when the list no longer shows what it removed.
  const reload = useCallback((): Promise<void> => {
    const mine = ++seq.current;
    return fn().then(
      (data) => void (mine === seq.current && setState({ data, loading: false })),
      (error) => void (mine === seq.current && setState((s) => ({ ...s, error, loading: false }))),
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  useEffect(() => {
    setState({ loading: true });
    void reload();
  }, [reload]);
  return { ...state, reload };
}

/** `volumes[0].path` and `volumes.0.path` (the handler's and the schema's spelling) are one field. */
const sameField = (a: string, b: string) => a.replace(/\[(\d+)\]/g, '.$1') === b.replace(/\[(\d+)\]/g, '.$1');

/** The message of an API error that names this field (details.field), else null. */
export function fieldError(error: unknown, field: string | undefined): string | null {
  return field && error instanceof ApiError && error.field && sameField(error.field, field) ? error.message : null;
}

/**
 * An error, unless it names one of `fields`: those are shown next to their field (Field's `error`),
 * so the form does not say it twice.
 */
export function ErrorText({ error, fields = [] }: { error: unknown; fields?: string[] }) {
  if (!error || fields.some((f) => fieldError(error, f))) return null;
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

/** A button that asks first: "Stop web?" [Confirm] [Cancel]. With `typed`, the user types that word to confirm; `name`, when the label alone does not say what it acts on; `disabled`, why it cannot be used now (its tooltip). */
export function ConfirmButton(props: { label: string; name?: string; question: string; typed?: string; danger?: boolean; disabled?: string | null; onConfirm: () => Promise<unknown> }) {
  const [open, setOpen] = useState(false);
  const [text, setText] = useState('');
  const { busy, error, run } = useAction();
  if (!open) {
    return (
      <button type="button" className={props.danger ? 'danger' : ''} aria-label={props.name} disabled={!!props.disabled} title={props.disabled ?? undefined} onClick={() => setOpen(true)}>
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

/**
 * A labelled text input (the label names the field for screen readers and tests). With `field` (the
 * API's name for it) and `error`, an API error naming that field is shown right beside it and the
 * input is marked invalid and described by it.
 */
export function Field({ label, onChange, field, error, ...input }: { label: string; value: string; onChange: (v: string) => void; field?: string; error?: unknown } & Omit<InputHTMLAttributes<HTMLInputElement>, 'onChange' | 'value'>) {
  const id = useId();
  const msg = fieldError(error, field);
  const control = (
    <label>
      {label}
      <input {...input} onChange={(e) => onChange(e.target.value)} aria-invalid={msg ? true : undefined} aria-describedby={msg ? id : undefined} />
    </label>
  );
  // With `field` the wrapper is always there, so an error appearing does not replace the input (and its focus).
  return field ? (
    <span className="field">
      {control}
      <FieldMessage id={id} message={msg} />
    </span>
  ) : (
    control
  );
}

/** A labelled select of `options` ([value, text] pairs), with the API's error about `field` beside it, as Field does. */
export function SelectField(props: { label: string; value: string; onChange: (v: string) => void; options: [string, string][]; field?: string; error?: unknown; disabled?: boolean; required?: boolean }) {
  const id = useId();
  const msg = fieldError(props.error, props.field);
  return (
    <span className="field">
      <label>
        {props.label}
        <select value={props.value} disabled={props.disabled} required={props.required} onChange={(e) => props.onChange(e.target.value)} aria-invalid={msg ? true : undefined} aria-describedby={msg ? id : undefined}>
          {props.options.map(([v, text]) => (
            <option key={v} value={v}>
              {text}
            </option>
          ))}
        </select>
      </label>
      <FieldMessage id={id} message={msg} />
    </span>
  );
}

/** The API's message about one field, beside it (Field, and selects that show it themselves). */
export function FieldMessage({ id, message }: { id: string; message: string | null }) {
  if (!message) return null;
  return (
    <span role="alert" id={id} className="error field-error">
      {message}
    </span>
  );
}

/** One term of a facts list (`<dl className="facts">`). */
export function Fact({ term, className, children }: { term: string; className?: string; children: ReactNode }) {
  return (
    <div>
      <dt>{term}</dt>
      <dd className={className}>{children}</dd>
    </div>
  );
}

/** 1536 → "1.5 KB". */
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** Calls fn every `ms` while the page is visible: for state that no event announces (a cluster node's). */
export function useEvery(fn: () => void, ms: number, enabled = true) {
  const ref = useRef(fn);
  ref.current = fn;
  useEffect(() => {
    if (!enabled) return;
    const t = setInterval(() => document.visibilityState === 'visible' && ref.current(), ms);
    return () => clearInterval(t);
  }, [ms, enabled]);
}

/** What an unknown URL shows; also admin screens to other users (the API answers them 404 too). */
export function NotFound() {
  useTitle('Page not found');
  return (
    <section aria-label="Page not found">
      <h1>Page not found</h1>
      <p>There is no such page. The address may be mistyped, or what it showed was deleted.</p>
      <p>
        <Link to="/projects">Go to your projects</Link>
      </p>
    </section>
  );
}

/** The browser tab's title, most specific part first: "web · Apps · Berth". Empty parts (still loading) are left out. */
export function useTitle(...parts: (string | null | undefined)[]) {
  const title = [...parts.filter(Boolean), 'Berth'].join(' · ');
  useEffect(() => {
    document.title = title;
  }, [title]);
}

/** 1 → "1 replica", 3 → "3 replicas". */
export const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
