import { setTimeout as sleep } from 'node:timers/promises';
import type { Networks } from '../types.js';
import type { OverlayAnchor } from './anchor.js';
import { SwarmServices } from './services.js';

export interface SwarmNetworksOptions {
  /** The manager's own engine, which removes a project's network once the anchor has left it. */
  local: Pick<Networks, 'removeNetwork'>;
  dockerHost?: string;
  callTimeoutMs?: number;
  anchor: OverlayAnchor;
  /** The anchor's namespace was bound anew: the router must reload to open it. */
  onNetnsChanged: () => Promise<void>;
}

/**
 * Project networks in cluster mode: attachable overlays, so that one-off commands and add-ons on
 * the manager share them with the replicas on every node, each joined by the overlay anchor whose
 * network namespace the router connects from (docs/cluster.md).
 */
export class SwarmNetworks implements Networks {
  private readonly overlays: SwarmServices;
  private anchorQueue: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: SwarmNetworksOptions) {
    this.overlays = new SwarmServices({ dockerHost: opts.dockerHost ?? process.env.DOCKER_HOST, callTimeoutMs: opts.callTimeoutMs ?? 30_000 });
  }

  async ensureNetwork(name: string, labels: Record<string, string>): Promise<void> {
    await this.overlays.ensureOverlay(name, labels);
    await this.syncAnchor(name);
  }

  async removeNetwork(name: string): Promise<void> {
    await this.opts.anchor.disconnect(name);
    await this.opts.local.removeNetwork(name);
  }

  /**
   * Until the signal aborts, looks every `everyMs` whether the anchor still runs in the namespace
   * the router connects from: a restarted anchor (an engine restart) has a new one, and until the
   * router reloads, no replica of any app can be reached.
   */
  async watchAnchor(signal: AbortSignal, everyMs = 1000): Promise<void> {
    while (!signal.aborted) {
      await this.syncAnchor().catch(() => undefined);
      await sleep(everyMs, undefined, { signal }).catch(() => undefined);
    }
  }

  /** The anchor on `network` (if given) and bound at its netns path; the router reloaded when that changed. */
  private syncAnchor(network?: string): Promise<void> {
    // One at a time: binding the namespace is a delete and an attach of one path.
    const step = this.anchorQueue.then(async () => {
      if (network) await this.opts.anchor.connect(network);
      if (await this.opts.anchor.sync()) await this.opts.onNetnsChanged();
    });
    this.anchorQueue = step.catch(() => undefined);
    return step;
  }
}
