import type { Readable } from 'node:stream';
import { jsonLines } from '../log-stream.js';
import type { EngineEvents, RuntimeEvent } from '../types.js';
import { engineError, labelFilters, type EngineClient } from './client.js';

// Event attributes the engine adds beside the container's labels.
const NON_LABEL_ATTRIBUTES = new Set(['image', 'name', 'exitCode', 'signal', 'execID', 'execDuration']);

/** The engine's container events, and its ping. */
export function dockerEvents(engine: EngineClient): EngineEvents {
  async function* eventStream(labels: Record<string, string>, since: string, signal: AbortSignal): AsyncGenerator<RuntimeEvent> {
    if (signal.aborted) return;
    let body: Readable;
    try {
      body = await engine.streams.getEvents({
        filters: { type: ['container'], label: labelFilters(labels) },
        since: since as unknown as number,
        abortSignal: signal,
      });
    } catch (err) {
      if (signal.aborted) return;
      throw engineError('events', err);
    }
    const stop = () => body.destroy();
    signal.addEventListener('abort', stop, { once: true });
    try {
      for await (const msg of jsonLines(body)) {
        const ev = toRuntimeEvent(msg);
        if (ev) yield ev;
      }
    } finally {
      signal.removeEventListener('abort', stop);
    }
  }

  return {
    async ping() {
      await engine.call('ping', (abortSignal) => engine.api.ping({ abortSignal }));
    },
    events(labels, signal) {
      // Asking the engine to replay from the moment of this call closes the gap before the stream connects.
      const sinceMs = Date.now();
      const since = `${Math.floor(sinceMs / 1000)}.${String((sinceMs % 1000) * 1e6).padStart(9, '0')}`;
      return eventStream(labels, since, signal);
    },
  };
}

function toRuntimeEvent(msg: Record<string, unknown>): RuntimeEvent | null {
  const actor = msg.Actor as { ID?: string; Attributes?: Record<string, string> } | undefined;
  const action = (msg.Action ?? msg.status) as string | undefined;
  if (!actor?.ID || typeof action !== 'string') return null;
  const attrs = actor.Attributes ?? {};
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(attrs)) if (!NON_LABEL_ATTRIBUTES.has(k)) labels[k] = v;
  const exit = attrs.exitCode !== undefined ? Number.parseInt(attrs.exitCode, 10) : NaN;
  const nanos = typeof msg.timeNano === 'number' ? msg.timeNano : Number(msg.time ?? 0) * 1e9;
  return {
    action,
    containerId: actor.ID,
    labels,
    exitCode: Number.isNaN(exit) ? null : exit,
    time: new Date(Math.floor(nanos / 1e6)).toISOString(),
  };
}
