/**
 * Building a tenant's image, as the build queue sees it. The queue imports this interface only;
 * the buildah implementation (buildah.ts) and its parts (fence, cgroup, stack cache) live beside it.
 */

export interface ImageBuildRequest {
  /** Names the build's own resources (namespace, cgroup, anchor); letters, digits, - and _. */
  buildId: string;
  /** The project whose own image store the build uses: it sees its earlier layers, no other project's. */
  projectId: string;
  /** Directory holding the build context. */
  contextDir: string;
  /** Path of the Dockerfile, relative to contextDir. */
  dockerfile: string;
  /** Its text, as the caller read it (without following links): what is checked before the build. */
  dockerfileText: string;
  /** The engine tag the result gets. */
  tag: string;
  labels: Record<string, string>;
  /** Ceilings over the build's RUN steps together. */
  memoryMb: number;
  pidsLimit: number;
  timeoutMs: number;
  signal?: AbortSignal;
  onLine?: (line: string) => void;
}

/** A refusal meant for the user as it is (a Dockerfile naming what a build may not use, a step that failed). */
export class ImageBuildFailed extends Error {}

export interface ImageBuilder {
  /**
   * True when the builder keeps `RUN --mount=type=cache` directories per project: generated
   * Dockerfiles then mount their download caches, and a user's Dockerfile may name cache mounts.
   */
  readonly cacheMounts: boolean;
  /** Builds and hands the image to the engine under req.tag; returns its id. */
  build(req: ImageBuildRequest): Promise<{ imageId: string }>;
  /** Removes what builds of this instance left behind when the process died (their namespaces). */
  sweep(): Promise<void>;
  /**
   * Drops what builds keep for projects that no longer exist (their download caches), and trims
   * the others' caches to the size limit. `readAt`: when liveProjects was read (Date.now()).
   */
  collect(liveProjects: string[], readAt: number): Promise<void>;
}
