/**
 * Berth's own image registry in cluster mode (Debian's docker-registry, i.e. Distribution 2.8, run
 * by the control plane on the manager): how images reach every Swarm node. Not to be confused with
 * registry *accounts* (src/domain/registries.ts), the users' credentials for outside registries.
 */

/** Credentials as the Engine API takes them in X-Registry-Auth (image pull/push, service create/update). */
export interface RegistryAuth {
  username: string;
  password: string;
  serveraddress: string;
}

/** What a Swarm service of a release runs: the image reference every node pulls, and the auth to pull it with. */
export interface PublishedImage {
  /** `ADDR:PORT/berth/<app id>:v<version>` */
  image: string;
  auth: RegistryAuth;
}

/** The release fields publishing needs. */
export interface ReleaseImage {
  app_id: string;
  version: number;
  /** The image as the control plane's engine has it (built there, or pulled there first). */
  image: string;
}

/** What one registry garbage collection did. */
export interface RegistryCollectResult {
  /** `repository@digest` of the manifests deleted. */
  deleted: string[];
  /** Whether `docker-registry garbage-collect` ran (it frees the blobs no manifest references). */
  collected: boolean;
}

/** The registry as the rest of Berth uses it (implemented by controllers/registry/). */
export interface ClusterRegistry {
  /** `host:port` once the registry runs, else null (single-node, or cluster mode not initialised). */
  address(): string | null;
  /**
   * Makes the release's image available to every node: tags it `ADDR/berth/<app>:v<version>` on the
   * control plane's engine and pushes it (skipped when the registry has that tag already), then
   * drops the local tag. Throws when the registry does not run or the push fails.
   */
  publish(release: ReleaseImage, signal?: AbortSignal): Promise<PublishedImage>;
  /** The reference and auth of a release's image, without pushing (for a service update that reuses a published image). */
  pullSpec(release: Pick<ReleaseImage, 'app_id' | 'version'>): PublishedImage;
  /** Berth's CA and the registry address, for the join command's trust step; null before the Swarm is active. */
  trust(): Promise<{ address: string; caPem: string } | null>;
  /** Deletes the manifests no kept release references, then frees their blobs (registry read-only meanwhile). */
  collect(): Promise<RegistryCollectResult>;
}
