import type { Readable } from 'node:stream';
import { connect, messageOf, statusOf, type CallOptions } from './engine-api.js';
import { modemOptions } from './docker/client.js';
import { splitReference } from './docker/images.js';
import { jsonLines } from './log-stream.js';

/** Pushing an image of the engine to a registry (cluster mode's own registry: src/registry/). */
export interface ImagePusher {
  /** Whether the engine has this image (a release's image may have been collected from it). */
  present(ref: string): Promise<boolean>;
  /** Tags `source` as `ref`, pushes `ref` with these credentials, then drops the tag (the engine keeps `source`). */
  push(source: string, ref: string, auth: { username: string; password: string; serveraddress: string }, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<void>;
}

interface PushApi {
  getImage(ref: string): {
    inspect(opts?: CallOptions): Promise<unknown>;
    tag(opts: CallOptions & { repo: string; tag: string }): Promise<unknown>;
    push(opts: CallOptions & { tag: string; authconfig: Record<string, string> }): Promise<Readable>;
    remove(opts?: CallOptions & { noprune?: boolean }): Promise<unknown>;
  };
}

/** Over the Engine API of the control plane's engine (DOCKER_HOST); the engine does the push, trusting the registry's CA from its certs.d. */
export class EngineImagePusher implements ImagePusher {
  private readonly api: PushApi;

  constructor(opts: { dockerHost?: string } = {}) {
    this.api = connect(modemOptions(opts.dockerHost ?? process.env.DOCKER_HOST)) as unknown as PushApi;
  }

  async present(ref: string): Promise<boolean> {
    try {
      await this.api.getImage(ref).inspect({ abortSignal: AbortSignal.timeout(30_000) });
      return true;
    } catch (err) {
      if (statusOf(err) === 404) return false;
      throw new Error(`docker image inspect ${ref}: ${messageOf(err).trim()}`, { cause: err });
    }
  }

  async push(source: string, ref: string, auth: { username: string; password: string; serveraddress: string }, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<void> {
    const deadline = AbortSignal.timeout(opts.timeoutMs);
    const signal = opts.signal ? AbortSignal.any([deadline, opts.signal]) : deadline;
    const { repository, tag } = splitReference(ref);
    try {
      await this.api.getImage(source).tag({ repo: repository, tag, abortSignal: signal });
    } catch (err) {
      throw new Error(`docker tag ${source} ${ref}: ${messageOf(err).trim()}`, { cause: err });
    }
    try {
      let error: string | null = null;
      const body = await this.api.getImage(repository).push({ tag, authconfig: { ...auth }, abortSignal: signal });
      for await (const msg of jsonLines(body)) {
        const detail = msg.errorDetail as { message?: string } | undefined;
        if (typeof msg.error === 'string' || detail?.message) error = detail?.message ?? String(msg.error);
      }
      if (signal.aborted) throw new Error(deadline.aborted ? `timed out after ${opts.timeoutMs} ms` : 'canceled');
      if (error) throw new Error(error.trim());
    } catch (err) {
      throw new Error(`push of ${ref} failed: ${messageOf(err).trim()}`, { cause: err });
    } finally {
      // Only the tag goes: the image stays under its own name, and the layers stay while it does.
      await this.api
        .getImage(ref)
        .remove({ noprune: true })
        .catch((err: unknown) => {
          if (statusOf(err) !== 404) throw err;
        })
        .catch(() => {});
    }
  }
}
