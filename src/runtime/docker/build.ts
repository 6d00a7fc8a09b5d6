import type { Readable } from 'node:stream';
import { packContext } from '../build-context.js';
import { messageOf } from '../engine-api.js';
import { jsonLines } from '../log-stream.js';
import type { ImageBuilds, Images } from '../types.js';
import type { EngineClient } from './client.js';

const ANSI_SGR = /\x1b\[[0-9;]*m/g;

/** The engine's own (classic) builder: a Dockerfile and its context in, an image and its log lines out. */
export function dockerBuilds(engine: EngineClient, images: Pick<Images, 'inspectImage'>): ImageBuilds {
  return {
    async buildImage(opts) {
      const deadline = AbortSignal.timeout(opts.timeoutMs);
      const signal = opts.signal ? AbortSignal.any([deadline, opts.signal]) : deadline;
      const failure = () => new Error(deadline.aborted ? `build timed out after ${opts.timeoutMs} ms` : 'build canceled');
      if (signal.aborted) throw failure();

      const memory = opts.memoryMb ? Math.floor(opts.memoryMb * 1024 * 1024) : undefined;
      const context = packContext(opts.contextDir, signal);
      let body: Readable;
      try {
        body = await engine.streams.buildImage(context, {
          t: opts.tag,
          dockerfile: opts.dockerfile,
          ...(opts.labels ? { labels: opts.labels } : {}),
          ...(memory ? { memory, memswap: memory } : {}),
          // Intermediate containers go away even when a step fails.
          rm: true,
          forcerm: true,
          abortSignal: signal,
        });
      } catch (err) {
        context.destroy();
        if (signal.aborted) throw failure();
        throw new Error(`build failed: ${messageOf(err).trim()}`, { cause: err });
      }
      const stop = () => body.destroy();
      signal.addEventListener('abort', stop, { once: true });

      let error: string | null = null;
      let partial = '';
      const split = (text: string) => {
        const lines = (partial + text).split(/\r?\n/);
        partial = lines.pop() ?? '';
        for (const line of lines) opts.onLine?.(line);
      };
      // The classic builder paints a step's stderr red; the log is plain text.
      const emit = (text: string) => split(text.replace(ANSI_SGR, ''));
      try {
        for await (const msg of jsonLines(body)) {
          if (typeof msg.stream === 'string') emit(msg.stream);
          else if (typeof msg.status === 'string') emit(`${msg.status}${typeof msg.progress === 'string' ? ` ${msg.progress}` : ''}\n`);
          const detail = msg.errorDetail as { message?: string } | undefined;
          if (typeof msg.error === 'string' || detail?.message) error = detail?.message ?? String(msg.error);
        }
      } finally {
        signal.removeEventListener('abort', stop);
        context.destroy();
      }
      if (partial) opts.onLine?.(partial);
      if (signal.aborted) throw failure();
      if (error) {
        opts.onLine?.(error);
        throw new Error(`build failed: ${error}`);
      }
      const info = await images.inspectImage(opts.tag);
      if (!info) throw new Error(`build finished but image ${opts.tag} is missing`);
      return info;
    },
  };
}
