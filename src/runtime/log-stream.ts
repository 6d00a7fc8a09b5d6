import type { Readable } from 'node:stream';
import type { LogLine } from './types.js';

const STREAMS: Record<number, LogLine['stream'] | undefined> = { 1: 'stdout', 2: 'stderr' };

/**
 * Splits the engine's multiplexed log stream (8-byte frame headers: stream, 0, 0, 0, big-endian
 * length) into lines, each starting with the engine's timestamp because logs are requested with
 * timestamps=true. Frames can straddle chunks, and a long line can span frames.
 */
export class LogDemuxer {
  private pending: Buffer = Buffer.alloc(0);
  private partial: Record<LogLine['stream'], string> = { stdout: '', stderr: '' };

  push(chunk: Buffer): LogLine[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const out: LogLine[] = [];
    while (this.pending.length >= 8) {
      const size = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + size) break;
      const stream = STREAMS[this.pending[0]];
      const text = this.pending.subarray(8, 8 + size).toString('utf8');
      this.pending = this.pending.subarray(8 + size);
      if (stream) this.lines(stream, text, out);
    }
    return out;
  }

  /** Lines still waiting for their newline when the stream ends. */
  end(): LogLine[] {
    const out: LogLine[] = [];
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.partial[stream]) out.push(parseLine(stream, this.partial[stream]));
      this.partial[stream] = '';
    }
    return out;
  }

  private lines(stream: LogLine['stream'], text: string, out: LogLine[]): void {
    const parts = (this.partial[stream] + text).split('\n');
    this.partial[stream] = parts.pop() ?? '';
    for (const part of parts) out.push(parseLine(stream, part.endsWith('\r') ? part.slice(0, -1) : part));
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
