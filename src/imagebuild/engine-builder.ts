import type { ImageBuilds } from '../runtime/types.js';
import { checkDockerfile, DockerfileRefused } from './dockerfile-check.js';
import { ImageBuildFailed, type ImageBuilder, type ImageBuildRequest } from './types.js';

/**
 * Builds with the engine's own builder, for a control plane whose Docker Engine is on another host
 * (DOCKER_HOST names a remote or nested engine): buildah needs the engine's containers in this
 * host's process and network namespaces, and its hand-over registry on this host's loopback. Such a
 * build is NOT isolated from other projects' images on that engine (docs/security.md, Builds): the
 * Dockerfile check still refuses transports and RUN flags, but a FROM of another project's image by
 * name resolves. Berth says so at start; run the control plane on the engine's host for isolation.
 */
export class EngineBuilder implements ImageBuilder {
  // The classic builder has no RUN --mount: generated steps clean their caches instead.
  readonly cacheMounts = false;

  constructor(private readonly runtime: ImageBuilds) {}

  async build(req: ImageBuildRequest): Promise<{ imageId: string }> {
    try {
      checkDockerfile(req.dockerfileText);
    } catch (err) {
      if (err instanceof DockerfileRefused) throw new ImageBuildFailed(err.message);
      throw err;
    }
    const image = await this.runtime.buildImage({
      contextDir: req.contextDir,
      dockerfile: req.dockerfile,
      tag: req.tag,
      labels: req.labels,
      memoryMb: req.memoryMb,
      timeoutMs: req.timeoutMs,
      signal: req.signal,
      onLine: req.onLine,
    });
    return { imageId: image.id };
  }

  async sweep(): Promise<void> {}

  async collect(): Promise<void> {}
}

/** True when DOCKER_HOST is unset or names this host's engine socket (the only set-up buildah builds work with). */
export function engineIsLocal(dockerHost: string | undefined): boolean {
  return !dockerHost || ['unix:///var/run/docker.sock', 'unix:///run/docker.sock'].includes(dockerHost);
}
