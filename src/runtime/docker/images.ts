import type { Readable } from 'node:stream';
import { messageOf, statusOf } from '../engine-api.js';
import { needsLookup, resolveImageUser, type ImageUser } from '../image-user.js';
import { LABEL, containerLabels } from '../labels.js';
import { jsonLines } from '../log-stream.js';
import { readTarFile } from '../tar-file.js';
import type { ImageInfo, Images } from '../types.js';
import { engineError, labelFilters, withDeadline, type EngineClient } from './client.js';

/** The engine's images: inspect, the user an image runs as, list, remove, pull. */
export function dockerImages(engine: EngineClient): Images {
  const { api, streams } = engine;
  /** Resolved users by image content id: an image's files never change. */
  const users = new Map<string, ImageUser>();

  async function inspectImage(ref: string): Promise<ImageInfo | null> {
    const raw = await engine.call('inspect image', (abortSignal) => api.getImage(ref).inspect({ abortSignal }), [404]);
    if (!raw) return null;
    const ports = Object.keys(raw.Config?.ExposedPorts ?? {})
      .map((p) => Number.parseInt(p, 10))
      .filter((p) => Number.isInteger(p) && p > 0);
    return { id: raw.Id, user: raw.Config?.User ?? '', exposedPorts: ports, size: raw.Size, created: raw.Created, labels: raw.Config?.Labels ?? {} };
  }

  /**
   * Small text files of an image, read through the engine's archive API from a container that is
   * created and never started (nothing of the image runs); null for a file the image lacks.
   */
  async function imageFiles<P extends string>(imageId: string, labels: Record<string, string>, paths: P[]): Promise<Record<P, string | null>> {
    const c = await engine.call('create container', (abortSignal) =>
      api.createContainer({
        Image: imageId,
        Entrypoint: ['/berth-never-started'],
        Cmd: [],
        User: '65534:65534',
        NetworkDisabled: true,
        // Blanks Berth's labels a built image carries (berth.app, ...): the reader is no app's replica or stray.
        Labels: containerLabels({ [LABEL.imageReader]: 'true' }, labels),
        HostConfig: { NetworkMode: 'none', CapDrop: ['ALL'], Privileged: false, Binds: [], Mounts: [] },
        abortSignal,
      }),
    );
    try {
      const out = {} as Record<P, string | null>;
      for (const path of paths) {
        const signal = AbortSignal.timeout(engine.callTimeoutMs);
        let tar: NodeJS.ReadableStream;
        try {
          tar = await streams.getContainer(c.id).getArchive({ path, abortSignal: signal });
        } catch (err) {
          if (statusOf(err) === 404) {
            out[path] = null;
            continue;
          }
          throw engineError('read image file', err);
        }
        out[path] = await readTarFile(tar, 1024 * 1024);
      }
      return out;
    } finally {
      // v: the anonymous volumes an image's VOLUME lines made at create go with it.
      await engine.call('remove container', (abortSignal) => api.getContainer(c.id).remove({ force: true, v: true, abortSignal }), [404]);
    }
  }

  return {
    inspectImage,
    async imageUser(ref) {
      const image = await inspectImage(ref);
      if (!image) throw new Error(`image ${ref} is not on the engine`);
      const known = users.get(image.id);
      if (known) return known;
      const need = needsLookup(image.user);
      const files = need.passwd || need.group ? await imageFiles(image.id, image.labels ?? {}, ['/etc/passwd', '/etc/group']) : { '/etc/passwd': null, '/etc/group': null };
      const user = resolveImageUser(image.user, { passwd: files['/etc/passwd'], group: files['/etc/group'] });
      if (users.size > 1000) users.clear();
      users.set(image.id, user);
      return user;
    },
    async removeImage(ref) {
      await engine.call('remove image', (abortSignal) => api.getImage(ref).remove({ abortSignal }), [404]);
    },
    async listImages(labels) {
      const list = await engine.call('list images', (abortSignal) => api.listImages({ filters: { label: labelFilters(labels) }, abortSignal }));
      return list.map((i) => ({ id: i.Id, tags: (i.RepoTags ?? []).filter((t) => t !== '<none>:<none>'), labels: i.Labels ?? {}, size: i.Size ?? 0 }));
    },
    async pullImage(ref, opts) {
      const signal = withDeadline(opts.timeoutMs, opts.signal);
      const { repository, tag } = splitReference(ref);
      let body: Readable;
      try {
        body = await new Promise<Readable>((resolve, reject) =>
          streams.createImage(opts.auth, { fromImage: repository, tag, abortSignal: signal }, (err, data) => (err ? reject(err) : resolve(data))),
        );
      } catch (err) {
        if (signal.aborted) throw new Error(`pull of ${ref} timed out after ${opts.timeoutMs} ms`, { cause: err });
        throw new Error(messageOf(err).trim(), { cause: err });
      }
      let error: string | null = null;
      const stop = () => body.destroy();
      signal.addEventListener('abort', stop, { once: true });
      try {
        for await (const msg of jsonLines(body)) {
          const detail = msg.errorDetail as { message?: string } | undefined;
          if (typeof msg.error === 'string' || detail?.message) error = detail?.message ?? String(msg.error);
        }
      } finally {
        signal.removeEventListener('abort', stop);
      }
      if (signal.aborted) throw new Error(`pull of ${ref} timed out after ${opts.timeoutMs} ms`);
      if (error) throw new Error(error.trim());
    },
  };
}

/** repository and tag (or digest) of a reference: "host:5000/team/app:1" → host:5000/team/app + 1; no tag is "latest", never "all tags". */
export function splitReference(ref: string): { repository: string; tag: string } {
  const at = ref.indexOf('@');
  if (at >= 0) return { repository: ref.slice(0, at), tag: ref.slice(at + 1) };
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  return colon > slash ? { repository: ref.slice(0, colon), tag: ref.slice(colon + 1) } : { repository: ref, tag: 'latest' };
}
