import type { Readable } from 'node:stream';
import type { LogLine } from './types.js';

const STREAMS: Record<number, LogLine['stream'] | undefined> = { 1: 'stdout', 2: 'stderr' };

/**
 * Splits the engine's multiplexed stream of a container without a terminal (8-byte frame headers:
 * stream, 0, 0, 0, big-endian length) into its stdout and stderr payloads. Frames can straddle chunks.
 */
export class FrameSplitter {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): { stream: LogLine['stream']; payload: Buffer }[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const out: { stream: LogLine['stream']; payload: Buffer }[] = [];
    while (this.pending.length >= 8) {
      const size = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + size) break;
      const stream = STREAMS[this.pending[0]];
      const payload = this.pending.subarray(8, 8 + size);
      this.pending = this.pending.subarray(8 + size);
      if (stream) out.push({ stream, payload });
    }
    return out;
  }
}

/**
 * Splits the engine's multiplexed log stream into lines, each starting with the engine's timestamp
 * because logs are requested with timestamps=true. A long line can span frames.
 */
/** The longest line kept whole; a longer one is passed on in pieces of this size. */
export const MAX_LINE_BYTES = 64 * 1024;

export class LogDemuxer {
  private readonly frames = new FrameSplitter();
  // Bytes, not text: a frame boundary can cut a multi-byte character in half.
  private partial: Record<LogLine['stream'], Buffer> = { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) };

  push(chunk: Buffer): LogLine[] {
    const out: LogLine[] = [];
    for (const f of this.frames.push(chunk)) this.lines(f.stream, f.payload, out);
    return out;
  }

  /** Lines still waiting for their newline when the stream ends. */
  end(): LogLine[] {
    const out: LogLine[] = [];
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.partial[stream].length) out.push(parseLine(stream, this.partial[stream].toString('utf8')));
      this.partial[stream] = Buffer.alloc(0);
    }
    return out;
  }

  private lines(stream: LogLine['stream'], payload: Buffer, out: LogLine[]): void {
    let buf = this.partial[stream].length ? Buffer.concat([this.partial[stream], payload]) : payload;
    for (let nl = buf.indexOf(0x0a); nl >= 0; nl = buf.indexOf(0x0a)) {
      const text = buf.subarray(0, nl).toString('utf8');
      out.push(parseLine(stream, text.endsWith('\r') ? text.slice(0, -1) : text));
      buf = buf.subarray(nl + 1);
    }
    // A line never ends (output without newlines): it is cut into pieces of MAX_LINE_BYTES rather
    // than held whole, so one container cannot grow the reader's memory without bound.
    while (buf.length > MAX_LINE_BYTES) {
      out.push(parseLine(stream, buf.subarray(0, MAX_LINE_BYTES).toString('utf8')));
      buf = buf.subarray(MAX_LINE_BYTES);
    }
    // Copied so a retained tail does not pin the whole chunk it came from.
    this.partial[stream] = Buffer.from(buf);
  }
}

function parseLine(stream: LogLine['stream'], raw: string): LogLine {
  const space = raw.indexOf(' ');
  const time = space > 0 ? raw.slice(0, space) : '';
  if (!/^\d{4}-\d\d-\d\dT/.test(time)) return { stream, time: '', line: raw };
  return { stream, time, line: raw.slice(space + 1) };
}

/** Yields demultiplexed lines from a response stream or an already complete body. */
export async function* demuxLogs(body: Readable | Buffer): AsyncGenerator<LogLine> {
  const demux = new LogDemuxer();
  if (Buffer.isBuffer(body)) {
    yield* demux.push(body);
  } else {
    try {
      for await (const chunk of body) yield* demux.push(chunk as Buffer);
    } catch (err) {
      // An abort or the engine closing the stream ends the logs; anything else is a real failure.
      if (!isStreamEnd(err)) throw err;
    } finally {
      body.destroy();
    }
  }
  yield* demux.end();
}

/** demuxLogs, with the response destroyed when the signal aborts (a follow ends with its caller). */
export async function* demuxUntil(body: Readable | Buffer, signal: AbortSignal | undefined): AsyncGenerator<LogLine> {
  const stop = () => (Buffer.isBuffer(body) ? undefined : body.destroy());
  signal?.addEventListener('abort', stop, { once: true });
  try {
    yield* demuxLogs(body);
  } finally {
    signal?.removeEventListener('abort', stop);
  }
}

/** An engine timestamp (RFC 3339, fraction trimmed of trailing zeros) as a string that sorts by time. */
function sortableTime(time: string): string {
  const m = /^([^.Z]+)(?:\.(\d{1,9}))?Z$/.exec(time);
  return m ? `${m[1]}.${(m[2] ?? '').padEnd(9, '0')}Z` : time;
}

/**
 * Drops lines the engine sends a second time. Docker 20.10 following a json-file log across a
 * rotation (max-size reached mid-burst) re-sends the lines already read from the new file: the
 * stream's timestamps step back once and the same lines come again. The logger stamps each stream's
 * lines in order (nanoseconds), so within a stream a line older than the last one sent, or the
 * last one again, is such a repeat. Lines without a timestamp pass. The price: were the host's wall
 * clock stepped back while an app logs, its lines stamped before the clock caught up would be
 * dropped from a follow that was open across the step (`docker logs` still has them).
 */
export async function* withoutResent(lines: AsyncIterable<LogLine>): AsyncGenerator<LogLine> {
  const last: Partial<Record<LogLine['stream'], { time: string; line: string }>> = {};
  for await (const l of lines) {
    if (l.time) {
      const time = sortableTime(l.time);
      const prev = last[l.stream];
      if (prev && (time < prev.time || (time === prev.time && l.line === prev.line))) continue;
      last[l.stream] = { time, line: l.line };
    }
    yield l;
  }
}

/** Splits a stream of newline-delimited JSON objects (events, build output). */
export async function* jsonLines(body: Readable): AsyncGenerator<Record<string, unknown>> {
  let rest = '';
  try {
    for await (const chunk of body) {
      const parts = (rest + (chunk as Buffer).toString('utf8')).split('\n');
      rest = parts.pop() ?? '';
      for (const part of parts) {
        const obj = parseJson(part);
        if (obj) yield obj;
      }
    }
  } catch (err) {
    if (!isStreamEnd(err)) throw err;
  } finally {
    body.destroy();
  }
  const obj = parseJson(rest);
  if (obj) yield obj;
}

function parseJson(text: string): Record<string, unknown> | null {
  if (!text.trim()) return null;
  try {
    const v: unknown = JSON.parse(text);
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

export function isStreamEnd(err: unknown): boolean {
  const e = err as { name?: string; code?: string } | null;
  return e?.name === 'AbortError' || e?.code === 'ABORT_ERR' || e?.code === 'ECONNRESET' || e?.code === 'ERR_STREAM_PREMATURE_CLOSE';
}
