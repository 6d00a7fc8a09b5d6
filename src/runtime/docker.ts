import type { Runtime } from './types.js';
import { EngineClient } from './docker/client.js';
import { dockerBuilds } from './docker/build.js';
import { dockerContainers } from './docker/containers.js';
import { dockerEvents } from './docker/events.js';
import { dockerImages } from './docker/images.js';
import { dockerNetworks } from './docker/networks.js';
import { dockerRuns } from './docker/runs.js';
import { dockerVolumes } from './docker/volumes.js';

export { modemOptions } from './docker/client.js';
export { splitReference } from './docker/images.js';

export interface DockerRuntimeOptions {
  /** unix:///path, tcp://host:port, http(s)://host:port or a socket path. Default: DOCKER_HOST, then the local socket. */
  dockerHost?: string;
  /** Limit for each short engine call (inspect, create, list, ...). */
  callTimeoutMs?: number;
  /**
   * Where project networks get /24 subnets once the engine's default address pools are used up
   * (stock dockerd fits about 30 user networks). Must not overlap the host's own networks.
   */
  subnetPool?: string;
  /** Image of the short root helpers (a new volume's chmod, backups, du). */
  helperImage?: string;
}

/** Every port of one Docker Engine, each made by its own file in docker/ over one shared client. */
function dockerPorts(opts: DockerRuntimeOptions): Runtime {
  const engine = new EngineClient(opts);
  const helperImage = opts.helperImage ?? 'berth/base:bookworm';
  const images = dockerImages(engine);
  const volumes = dockerVolumes(engine, helperImage);
  return {
    ...dockerEvents(engine),
    ...dockerNetworks(engine, opts.subnetPool ?? '10.213.0.0/16'),
    ...dockerContainers(engine, images, volumes),
    ...dockerRuns(engine, volumes, helperImage),
    ...volumes,
    ...images,
    ...dockerBuilds(engine, images),
  };
}

// A class, so that callers write `new DockerRuntime()`; its methods are the ports' own (no forwarding).
const Assembled = function (this: Runtime, opts: DockerRuntimeOptions = {}) {
  Object.assign(this, dockerPorts(opts));
} as unknown as new (opts?: DockerRuntimeOptions) => Runtime;

/** The Docker Engine: every runtime port (runtime/types.ts) of one engine. */
export class DockerRuntime extends Assembled {}
