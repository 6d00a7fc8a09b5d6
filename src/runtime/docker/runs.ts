import type { Readable } from 'node:stream';
import { FrameSplitter, isStreamEnd } from '../log-stream.js';
import type { Containers, Runs, Volumes } from '../types.js';
import { engineError, type EngineClient } from './client.js';
import { waitContainer } from './containers.js';
import { createHelperContainer } from './helpers.js';

/** What one-off containers need beyond a container's life: waits, root helpers, file copies, terminals and pipes. */
export function dockerRuns(engine: EngineClient, volumes: Pick<Volumes, 'ensureVolume'>, helperImage: string): Omit<Runs, keyof Containers> {
  const { api, streams } = engine;

  async function attach(id: string, signal: AbortSignal): Promise<NodeJS.ReadWriteStream> {
    try {
      return await streams.getContainer(id).attach({ stream: true, stdin: true, stdout: true, stderr: true, logs: true, hijack: true, abortSignal: signal });
    } catch (err) {
      throw engineError('attach', err);
    }
  }

  return {
    waitContainer: (id, signal) => waitContainer(engine, id, signal),
    async createHelper(spec) {
      for (const m of spec.mounts) await volumes.ensureVolume(m.volume, m.labels);
      return createHelperContainer(engine, spec, helperImage);
    },
    async copyFrom(id, path, signal) {
      try {
        return await streams.getContainer(id).getArchive({ path, abortSignal: signal });
      } catch (err) {
        throw engineError('copy from container', err);
      }
    },
    async copyTo(id, dir, tar, signal) {
      try {
        await streams.getContainer(id).putArchive(tar as Readable, { path: dir, abortSignal: signal });
      } catch (err) {
        throw engineError('copy into container', err);
      }
    },
    attach,
    async resize(id, cols, rows) {
      await engine.call('resize', (abortSignal) => api.getContainer(id).resize({ h: rows, w: cols, abortSignal }), [404, 409]);
    },
    async attachPipes(id, signal) {
      const raw = await attach(id, signal);
      const frames = new FrameSplitter();
      async function* output() {
        try {
          for await (const chunk of raw as unknown as AsyncIterable<Buffer>) for (const f of frames.push(chunk)) yield { stream: f.stream, data: f.payload };
        } catch (err) {
          if (!isStreamEnd(err)) throw err;
        }
      }
      return { stdin: raw, output: output() };
    },
  };
}
