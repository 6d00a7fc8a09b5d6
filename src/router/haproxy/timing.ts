import { createConnection, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { TIMING_RING } from './config.js';

/** Response times (ms) of one window, per backend and per server of it ("s1"...). */
export type TimingWindow = Map<string, { all: number[]; servers: Map<string, number[]> }>;

/** At most this many times are kept per backend and per server in one window (a uniform sample beyond). */
export const SAMPLE_CAP = 4096;

/**
 * One request's line in HAProxy's httplog format: its backend, server, total active time (%Ta, ms)
 * and status. Lines HAProxy answered itself (no server: a 404 for an unknown host, an ACME token)
 * and aborted ones (a time of -1) say nothing about an app's response time: null.
 */
export function parseTimingLine(line: string): { backend: string; server: string; ms: number } | null {
  const m = /^\S+ \[[^\]]*\] \S+ ([^\s/]+)\/(\S+) -?\d+\/-?\d+\/-?\d+\/-?\d+\/\+?(-?\d+) \d{3} /.exec(line);
  if (!m || m[2] === '<NOSRV>') return null;
  const ms = Number(m[3]);
  return ms >= 0 ? { backend: m[1]!, server: m[2]!, ms } : null;
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
 * The connection ends with the worker it reached (a reload, a restart): it is opened again.
 * Nothing here writes to HAProxy but that one fixed command.
 */
export class TimingTap {
  private window: TimingWindow = new Map();
  private sock?: Socket;
  private stopped = false;
  private retry?: NodeJS.Timeout;

  constructor(
    private readonly socketPath: string,
    private readonly retryMs = 1000,
  ) {}

  start(): void {
    if (this.sock || this.stopped) return;
    const sock = createConnection(this.socketPath);
    // A reader in the background: it never keeps a process alive.
    sock.unref();
    this.sock = sock;
    sock.on('connect', () => sock.write(`show events ${TIMING_RING} -w -n\n`));
    createInterface({ input: sock }).on('line', (line) => this.add(line));
    sock.on('error', () => sock.destroy());
    sock.on('close', () => {
      this.sock = undefined;
      if (!this.stopped) this.retry = setTimeout(() => this.start(), this.retryMs).unref();
    });
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
    const t = parseTimingLine(line);
    if (!t) return;
    let be = this.window.get(t.backend);
    if (!be) this.window.set(t.backend, (be = { all: [], servers: new Map() }));
    keep(be.all, t.ms);
    let sv = be.servers.get(t.server);
    if (!sv) be.servers.set(t.server, (sv = []));
    keep(sv, t.ms);
  }
}
