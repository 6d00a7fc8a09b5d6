import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { useVirtualizer } from '@tanstack/react-virtual';
import { call, stream, type App, type LogLine, type SocketCall } from '../api';
import { plural } from '../ui';

/** At most this many lines are kept; older ones are dropped (bounded memory however long it follows). */
export const MAX_LINES = 100_000;
// Colours and cursor moves from a terminal-minded app: shown as plain text without them.
const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/g;

type Line = { t: string; c: string; s: string; text: string };

const RANGES: [string, string][] = [
  ['live', 'Live (follow)'],
  ['15m', 'Last 15 minutes'],
  ['1h', 'Last hour'],
  ['6h', 'Last 6 hours'],
  ['24h', 'Last 24 hours'],
  ['7d', 'Last 7 days'],
];

/**
 * The app's log: live (every replica, picked up as replicas come and go) or a past time range read
 * from the kept log, searched on the server.
 */
export function Logs({ app }: { app: App }) {
  const [range, setRange] = useState('live');
  return (
    <>
      <div className="inline log-controls">
        <label>
          Time range
          <select value={range} onChange={(e) => setRange(e.target.value)}>
            {RANGES.map(([v, l]) => (
              <option key={v} value={v}>
                {l}
              </option>
            ))}
          </select>
        </label>
      </div>
      {range === 'live' ? (
        <LogView title="Runtime logs" socket={{ name: 'followAppLogs', input: { params: { id: app.id }, query: { tail: 1000 } } }} byReplica />
      ) : (
        <KeptLogs key={range} app={app} since={range} />
      )}
    </>
  );
}

const PAGE = 1000;

/** Kept lines of a time range, newest last; Search asks the server (the whole range, not just the page). */
function KeptLogs({ app, since }: { app: App; since: string }) {
  const [typed, setTyped] = useState('');
  const [grep, setGrep] = useState('');
  // A process type, or router (the router's line per request); '' is every line.
  const [type, setType] = useState('');
  const [lines, setLines] = useState<LogLine[]>([]);
  const [before, setBefore] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  // The search is sent once typing pauses.
  useEffect(() => {
    const t = setTimeout(() => setGrep(typed.trim()), 300);
    return () => clearTimeout(t);
  }, [typed]);
  useEffect(() => {
    let live = true;
    setLoading(true);
    call('appLogs', { params: { id: app.id }, query: { since, grep: grep || undefined, type: type || undefined, limit: PAGE } })
      .then((r) => {
        if (!live) return;
        setLines(r.lines);
        setBefore(r.before);
        setError(null);
      })
      .catch((e: Error) => live && setError(e.message))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
  }, [app.id, since, grep, type]);
  const older = () =>
    call('appLogs', { params: { id: app.id }, query: { since, grep: grep || undefined, type: type || undefined, limit: PAGE, before: before ?? undefined } })
      .then((r) => {
        setLines((l) => [...r.lines, ...l]);
        setBefore(r.before);
      })
      .catch((e: Error) => setError(e.message));
  const types = useMemo(() => [...new Set(['web', 'router', ...lines.map((l) => l.process_type ?? ''), type].filter(Boolean))].sort(), [lines, type]);
  return (
    <section aria-label="Kept logs">
      <div className="section-head">
        <h2>Kept logs</h2>
        <span className="muted" aria-live="polite" data-testid="line-count">
          {loading ? 'loading…' : plural(lines.length, 'line')}
        </span>
      </div>
      <div className="inline log-controls">
        <label>
          Search
          <input type="search" value={typed} onChange={(e) => setTyped(e.target.value)} />
        </label>
        <label>
          Lines
          <select value={type} onChange={(e) => setType(e.target.value)}>
            <option value="">All</option>
            {types.map((t) => (
              <option key={t} value={t}>
                {t === 'router' ? 'router (requests)' : t}
              </option>
            ))}
          </select>
        </label>
        {before && (
          <button type="button" onClick={() => void older()}>
            Older lines
          </button>
        )}
      </div>
      {error && <p className="error">{error}</p>}
      <div className="log kept" role="log" aria-label="Kept logs lines" tabIndex={0}>
        {lines.map((l, i) => (
          <div key={i} className={`log-row ${l.stream}`}>
            <span className="log-time">{shortTime(l.time)}</span>
            <span className="log-c">{l.process_type !== undefined ? `${l.process_type}.${l.replica}` : l.container}</span>
            <span className="log-t">{l.line.replace(ANSI, '')}</span>
          </div>
        ))}
      </div>
    </section>
  );
}

/** An engine time as the viewer's local date and time to the millisecond. */
function shortTime(t: string): string {
  const d = new Date(t);
  if (!t || Number.isNaN(d.getTime())) return '';
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/**
 * Follows a log WebSocket into a virtualized list: only the rows on screen are in the DOM, new
 * lines are applied at most once per frame, and the list keeps the last MAX_LINES. Every line is
 * rendered as text.
 */
export function LogView(props: {
  title: string;
  /** The contract socket to follow (src/api/contract/sockets.ts). */
  socket: SocketCall;
  byReplica?: boolean;
  /** Turns a message of another kind of socket (a build log's) into a line; null skips it. */
  onMessage?: (msg: Record<string, unknown>) => { text: string; time: string } | null;
}) {
  const { title, socket, byReplica } = props;
  // Reopened only when the socket or its input changes, not on every render's new object.
  const socketKey = JSON.stringify(socket);
  const onMessage = useRef(props.onMessage);
  onMessage.current = props.onMessage;
  const lines = useRef<Line[]>([]);
  const pending = useRef<Line[]>([]);
  const [version, setVersion] = useState(0);
  const [paused, setPaused] = useState(false);
  const [text, setText] = useState('');
  const [replica, setReplica] = useState('');
  const [ended, setEnded] = useState(false);
  const pausedRef = useRef(paused);
  pausedRef.current = paused;

  useEffect(() => {
    lines.current = [];
    let frame = 0;
    const flush = () => {
      frame = 0;
      if (pausedRef.current) return;
      const all = lines.current;
      for (const l of pending.current) all.push(l);
      pending.current = [];
      if (all.length > MAX_LINES) all.splice(0, all.length - MAX_LINES);
      setVersion((v) => v + 1);
    };
    const { name, input } = JSON.parse(socketKey) as SocketCall;
    const close = stream(
      name,
      input,
      (m) => {
        if (onMessage.current) {
          const got = onMessage.current(m as Record<string, unknown>);
          if (got) pending.current.push({ t: got.time, c: '', s: 'stdout', text: got.text.replace(ANSI, '') });
        } else if ('error' in m) {
          pending.current.push({ t: '', c: '', s: 'stderr', text: m.error.message });
        } else if ('line' in m && 'stream' in m) {
          // A container log line (an add-on session's output has a stream too, but no line).
          const c = 'process_type' in m && m.process_type !== undefined ? `${m.process_type}.${m.replica}` : (m.container ?? '');
          pending.current.push({ t: m.time, c, s: m.stream, text: String(m.line).replace(ANSI, '') });
        }
        // A paused view still bounds what it holds back.
        if (pending.current.length > MAX_LINES) pending.current.splice(0, pending.current.length - MAX_LINES);
        if (!frame) frame = requestAnimationFrame(flush);
      },
      () => setEnded(true),
    );
    return () => {
      cancelAnimationFrame(frame);
      close();
    };
  }, [socketKey]);

  useEffect(() => {
    if (!paused && pending.current.length) setVersion((v) => v + 1);
  }, [paused]);

  // The lines live in a ref; `version` counts their changes (coarsely here), which the hooks rule cannot see.
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const replicas = useMemo(() => [...new Set(lines.current.map((l) => l.c))].filter(Boolean).sort(), [version >> 6, byReplica]);
  const shown = useMemo(() => {
    if (!paused && pending.current.length) {
      for (const l of pending.current) lines.current.push(l);
      pending.current = [];
      if (lines.current.length > MAX_LINES) lines.current.splice(0, lines.current.length - MAX_LINES);
    }
    const needle = text.toLowerCase();
    if (!needle && !replica) return lines.current;
    return lines.current.filter((l) => (!replica || l.c === replica) && (!needle || l.text.toLowerCase().includes(needle)));
    // eslint-disable-next-line react-hooks/exhaustive-deps -- `version` stands for the ref's lines (above)
  }, [version, text, replica, paused]);

  const parent = useRef<HTMLDivElement>(null);
  const virtual = useVirtualizer({ count: shown.length, getScrollElement: () => parent.current, estimateSize: () => 20, overscan: 20 });
  // Follow the end unless paused or scrolled up.
  const atEnd = useRef(true);
  // Where this code last scrolled to: a scroll event above it is the user's, anything else is ours.
  const ours = useRef(0);
  useLayoutEffect(() => {
    const el = parent.current;
    if (el && !paused && atEnd.current) {
      el.scrollTop = el.scrollHeight;
      ours.current = el.scrollTop;
    }
  }, [version, shown, paused]);

  return (
    <section aria-label={title}>
      <div className="section-head">
        <h2>{title}</h2>
        <span className="muted" aria-live="polite" data-testid="line-count">
          {plural(shown.length, 'line')}{ended ? ' (stream ended)' : ''}
        </span>
      </div>
      <div className="inline log-controls">
        <label>
          Filter
          <input type="search" value={text} onChange={(e) => setText(e.target.value)} />
        </label>
        {byReplica && (
          <label>
            Replica
            <select value={replica} onChange={(e) => setReplica(e.target.value)}>
              <option value="">all replicas</option>
              {replicas.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          </label>
        )}
        <button type="button" onClick={() => setPaused(!paused)} aria-pressed={paused}>
          {paused ? 'Resume' : 'Pause'}
        </button>
      </div>
      <div
        ref={parent}
        className="log"
        role="log"
        aria-label={`${title} lines`}
        tabIndex={0}
        onScroll={(e) => {
          const el = e.currentTarget;
          // Lines arriving between our scroll and its event make the end move; that is not the user scrolling up.
          if (el.scrollTop >= ours.current - 2) {
            atEnd.current = true;
            return;
          }
          atEnd.current = el.scrollTop + el.clientHeight >= el.scrollHeight - 40;
        }}
      >
        <div style={{ height: virtual.getTotalSize(), position: 'relative' }}>
          {virtual.getVirtualItems().map((row) => {
            const l = shown[row.index];
            return (
              <div key={row.key} className={`log-line ${l.s}`} style={{ transform: `translateY(${row.start}px)` }}>
                {l.t && <span className="log-time">{shortTime(l.t)}</span>}
                {byReplica && <span className="log-c">{l.c}</span>}
                <span className="log-t">{l.text}</span>
              </div>
            );
          })}
        </div>
      </div>
    </section>
  );
}
