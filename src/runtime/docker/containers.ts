import type { Readable } from 'node:stream';
import type { ContainerInspect } from '../engine-api.js';
import { hardenedCreateOptions } from '../hardening.js';
import { demuxUntil, withoutResent } from '../log-stream.js';
import { toContainerStats } from '../stats.js';
import { readListening } from '../listening.js';
import { ContainerStuck, type ContainerInfo, type ContainerState, type Containers, type Images, type Volumes } from '../types.js';
import { engineError, labelFilters, withDeadline, type EngineClient } from './client.js';

const NEVER = '0001-01-01T00:00:00Z';

/** A container's life on one engine: hardened create, start, stop, remove, inspect, list, logs, stats. */
export function dockerContainers(engine: EngineClient, images: Pick<Images, 'inspectImage' | 'imageUser'>, volumes: Pick<Volumes, 'ensureVolume'>): Containers {
  const { api, streams } = engine;

  async function inspectContainer(id: string): Promise<ContainerInfo | null> {
    const raw = await engine.call('inspect container', (abortSignal) => api.getContainer(id).inspect({ abortSignal }), [404]);
    return raw ? toContainerInfo(raw) : null;
  }

  return {
    async createContainer(spec) {
      const image = await images.inspectImage(spec.image);
      if (!image) throw new Error(`image ${spec.image} is not on the engine`);
      const body = hardenedCreateOptions(spec, (await images.imageUser(spec.image)).runAs, image.labels);
      for (const m of spec.mounts ?? []) await volumes.ensureVolume(m.volume, m.labels);
      const container = await engine.call('create container', (abortSignal) => api.createContainer({ ...body, abortSignal }));
      return container.id;
    },
    startContainer: (id) => startContainer(engine, id),
    async stopContainer(id, timeoutSec) {
      const t = Math.max(0, Math.round(timeoutSec));
      await engine.call('stop container', (abortSignal) => streams.getContainer(id).stop({ t, abortSignal }), [304, 404], (t + 30) * 1000);
    },
    removeContainer: (id) => removeContainer(engine, id),
    inspectContainer,
    async listening(id) {
      const raw = await engine.call('inspect container', (abortSignal) => api.getContainer(id).inspect({ abortSignal }), [404]);
      const sockets = raw?.State.Pid ? await readListening(raw.State.Pid, raw.Id) : null;
      // The engine's embedded DNS server listens in every container on a user network: not the app's.
      return sockets?.filter((s) => s.address !== '127.0.0.11') ?? null;
    },
    async listContainers(labels) {
      const list = await engine.call('list containers', (abortSignal) => api.listContainers({ all: true, filters: { label: labelFilters(labels) }, abortSignal }));
      // The list lacks exit codes and restart counts; a container removed meanwhile drops out.
      const infos = await Promise.all(list.map((c) => inspectContainer(c.Id)));
      return infos.filter((c): c is ContainerInfo => c !== null);
    },
    async *logs(id, opts) {
      if (opts.signal?.aborted) return;
      const follow = opts.follow ?? false;
      const signal = follow ? opts.signal : withDeadline(engine.callTimeoutMs * 2, opts.signal);
      let body: Readable | Buffer;
      try {
        body = await streams.getContainer(id).logs({
          follow,
          stdout: true,
          stderr: true,
          timestamps: true,
          tail: opts.tail ?? 'all',
          since: opts.since ?? 0,
          abortSignal: signal,
        });
      } catch (err) {
        if (opts.signal?.aborted) return;
        throw engineError('logs', err);
      }
      yield* withoutResent(demuxUntil(body, signal));
    },
    async stats(id) {
      // stream=false: one answer, after the engine's next sample (about a second), so CPU has a previous sample to compare with.
      const raw = await engine.call('container stats', (abortSignal) => api.getContainer(id).stats({ stream: false, abortSignal }), [404]);
      return raw ? toContainerStats(raw) : null;
    },
  };
}

export async function startContainer(engine: EngineClient, id: string): Promise<void> {
  // A stopping engine removes its socket first and stops containers after, while still answering on
  // connections already open: a start then races the shutdown and can leave a task behind that
  // blocks every later start of the container. Its restart policy starts it when the engine is back.
  if (!(await engine.acceptsConnections())) throw new Error('docker start container: the engine is shutting down (its socket is gone)');
  try {
    // 304: already running.
    await engine.call('start container', (abortSignal) => engine.api.getContainer(id).start({ abortSignal }), [304]);
  } catch (err) {
    const message = (err as Error).message;
    if (/(task|container) "?[0-9a-f]{12,}"?: already exists/.test(message)) throw new ContainerStuck(`${message} (a task left from before the engine restarted)`);
    throw err;
  }
}

export async function removeContainer(engine: EngineClient, id: string): Promise<void> {
  // 409: the engine is already removing it.
  await engine.call('remove container', (abortSignal) => engine.api.getContainer(id).remove({ force: true, v: true, abortSignal }), [404, 409]);
}

export async function waitContainer(engine: EngineClient, id: string, signal?: AbortSignal): Promise<number> {
  try {
    const res = await engine.streams.getContainer(id).wait({ abortSignal: signal });
    return res.StatusCode;
  } catch (err) {
    if (signal?.aborted) throw new Error('docker wait container: canceled', { cause: err });
    throw engineError('wait container', err);
  }
}

function toContainerInfo(raw: ContainerInspect): ContainerInfo {
  const state = raw.State.Status as ContainerState;
  const addresses: Record<string, string> = {};
  for (const [net, ep] of Object.entries(raw.NetworkSettings.Networks ?? {})) {
    if (ep.IPAddress) addresses[net] = ep.IPAddress;
  }
  const stopped = state === 'exited' || state === 'dead';
  return {
    id: raw.Id,
    name: raw.Name.replace(/^\//, ''),
    image: raw.Config.Image,
    labels: raw.Config.Labels ?? {},
    state,
    // A restarting container has exited: its last exit code says why.
    exitCode: stopped || state === 'restarting' ? raw.State.ExitCode : null,
    startError: raw.State.Error || null,
    restartCount: raw.RestartCount,
    addresses,
    createdAt: raw.Created,
    startedAt: raw.State.StartedAt && raw.State.StartedAt !== NEVER ? raw.State.StartedAt : null,
    finishedAt: raw.State.FinishedAt && raw.State.FinishedAt !== NEVER ? raw.State.FinishedAt : null,
    oomKilled: raw.State.OOMKilled === true,
    ...(typeof raw.HostConfig.Memory === 'number' && raw.HostConfig.Memory > 0 ? { memoryMb: Math.round(raw.HostConfig.Memory / 1048576) } : {}),
  };
}
