import { createConnection, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { TIMING_RING } from './config.js';

/** Response times (ms) of one window, per backend: all of them, and per server address ("10.0.0.5:8080"). */
export type TimingWindow = Map<string, { all: number[]; upstreams: Map<string, number[]> }>;

/** At most this many times are kept per backend and per server in one window (a uniform sample beyond). */
export const SAMPLE_CAP = 4096;
/** How long the reader waits before asking again for a ring the running HAProxy does not have (an older config). */
const NO_RING_RETRY_MS = 30_000;

/** One request's line as HAProxy wrote it, in parts (config.ts, HTTPLOG_FORMAT). */
export interface AccessLine {
  client: string;
  backend: string;
  /** The server slot that answered, `<NOSRV>` when HAProxy answered itself. */
  server: string;
  /** The server's address ("10.0.0.5:8080", "-:-" for none). */
  upstream: string;
  /** Time to the server's response headers (%Tr, ms; -1: no response). */
  tr: number;
  /** The whole request's time (%Ta, ms). */
  ta: number;
  /** Time to connect to the server (%Tc, ms; -1: no connection). */
  tc: number;
  status: number;
  bytes: number;
  /** The request line (method, path, version) as HAProxy logged it (non-printable bytes escaped). */
  request: string;
}

const ACCESS_LINE =
  /^(\S+):\S+ \[[^\]]*\] \S+ ([^\s/]+)\/(\S+) -?\d+\/-?\d+\/(-?\d+)\/(-?\d+)\/\+?(-?\d+) (\d{3}) \+?(\d+) .*?"(.*)" (\S+:\S+)$/;

/** A line of the timing ring in parts; null when it is not one (a CLI message, a cut line). */
export function parseAccessLine(line: string): AccessLine | null {
  const m = ACCESS_LINE.exec(line);
  if (!m) return null;
  return { client: m[1]!, backend: m[2]!, server: m[3]!, tc: Number(m[4]), tr: Number(m[5]), ta: Number(m[6]), status: Number(m[7]), bytes: Number(m[8]), request: m[9]!, upstream: m[10]! };
}

/**
 * One request's line in HAProxy's httplog format followed by the server's address (config.ts,
 * HTTPLOG_FORMAT): its backend, the server that answered, and the time until that server's response
 * headers came (%Tr, ms): what an app's latency is, and not the whole stream's life, which for a
 * WebSocket, an event stream or a slow download is the connection's. Lines HAProxy answered itself
 * (no server: a 404 for an unknown host, an ACME token), switched protocols (101) or that got no
 * response (a time of -1) say nothing about an app's response time: null.
 */
export function parseTimingLine(line: string): { backend: string; upstream: string; ms: number } | null {
  const a = parseAccessLine(line);
  return a ? timingOf(a) : null;
}

function timingOf(a: AccessLine): { backend: string; upstream: string; ms: number } | null {
  if (a.server === '<NOSRV>' || a.status === 101 || a.tr < 0) return null;
  return { backend: a.backend, upstream: a.upstream, ms: a.tr };
}

/** Adds a value to a capped sample: the first SAMPLE_CAP kept, then each replaces a random one with falling odds (reservoir sampling). */
function keep(sample: number[] & { seen?: number }, v: number): void {
  sample.seen = (sample.seen ?? 0) + 1;
  if (sample.length < SAMPLE_CAP) sample.push(v);
  else {
    const j = Math.floor(Math.random() * sample.seen);
    if (j < SAMPLE_CAP) sample[j] = v;
  }
}

/**
 * Follows HAProxy's timing ring through the runtime API (`show events berth-timing -w -n`: new
 * lines, waiting for more) and keeps each request's response time until take() collects them.
 * The router calls reconnect() after each reload and restart: an open reader would otherwise stay
 * on the old worker (and keep it alive). A connection that ends is opened again a second later;
 * a HAProxy started from an older config has no ring, and is asked again every 30 s. Nothing here
 * writes to HAProxy but that one fixed command.
 */
export class TimingTap {
  private window: TimingWindow = new Map();
  private sock?: Socket;
  private stopped = false;
  private retry?: NodeJS.Timeout;
  private noRing = false;
  /** How many times the reader connected: once per HAProxy worker, unless a connection was cut. */
  connections = 0;
  /** Told each request an app's server answered (the log store's router lines), in the reader's turn. */
  private listener?: (a: AccessLine) => void;

  constructor(
    private readonly socketPath: string,
    private readonly warn: (msg: string) => void = () => {},
    private readonly retryMs = 1000,
  ) {}

  start(): void {
    if (this.sock || this.stopped) return;
    clearTimeout(this.retry);
    const sock = createConnection(this.socketPath);
    // A reader in the background: it never keeps a process alive.
    sock.unref();
    this.sock = sock;
    let missing = false;
    sock.on('connect', () => {
      this.connections++;
      sock.write(`show events ${TIMING_RING} -w -n\n`);
    });
    createInterface({ input: sock }).on('line', (line) => {
      if (/no such event sink/i.test(line)) missing = true;
      else this.add(line);
    });
    sock.on('error', () => sock.destroy());
    sock.on('close', () => {
      if (this.sock === sock) this.sock = undefined;
      if (missing && !this.noRing) this.warn(`the running HAProxy has no ${TIMING_RING} ring (started from an older config): no response-time percentiles until it is reloaded or restarted`);
      this.noRing = missing;
      if (!this.stopped && !this.sock) this.retry = setTimeout(() => this.start(), missing ? NO_RING_RETRY_MS : this.retryMs).unref();
    });
  }

  /** One listener for each parsed request line whose backend had a server (null: none any more). */
  onLine(listener: ((a: AccessLine) => void) | null): void {
    this.listener = listener ?? undefined;
  }

  /** Reads the ring of the worker running now. */
  reconnect(): void {
    const old = this.sock;
    this.sock = undefined;
    old?.destroy();
    this.start();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retry);
    this.sock?.destroy();
  }

  /** The times seen since the last call. */
  take(): TimingWindow {
    const w = this.window;
    this.window = new Map();
    return w;
  }

  private add(line: string): void {
    const a = parseAccessLine(line);
    if (!a) return;
    if (this.listener && a.server !== '<NOSRV>') {
      try {
        this.listener(a);
      } catch {
        /* a listener's failure must not stop the timing */
      }
    }
    const t = timingOf(a);
    if (!t) return;
    let be = this.window.get(t.backend);
    if (!be) this.window.set(t.backend, (be = { all: [], upstreams: new Map() }));
    keep(be.all, t.ms);
    let sv = be.upstreams.get(t.upstream);
    if (!sv) be.upstreams.set(t.upstream, (sv = []));
    keep(sv, t.ms);
  }
}
