import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { useVirtualizer } from '@tanstack/react-virtual';
import { stream, type App, type SocketCall } from '../api';

/** At most this many lines are kept; older ones are dropped (bounded memory however long it follows). */
export const MAX_LINES = 100_000;
// Colours and cursor moves from a terminal-minded app: shown as plain text without them.
const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/g;

type Line = { t: string; c: string; s: string; text: string };

export function Logs({ app }: { app: App }) {
  return <LogView title="Runtime logs" socket={{ name: 'followAppLogs', input: { params: { id: app.id }, query: { tail: 1000 } } }} byReplica />;
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
          pending.current.push({ t: m.time, c: m.container ?? '', s: m.stream, text: String(m.line).replace(ANSI, '') });
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
          {shown.length} lines{ended ? ' (stream ended)' : ''}
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
