import type { ControllerDeps } from './deps.js';
import { LABEL } from '../runtime/labels.js';
import { allVolumeIds } from '../store/volumes.js';
import { Passes } from './passes.js';

/**
 * Removes the engine volumes of deleted Berth volumes. Deleting a volume (or an app with
 * --with-volumes) only deletes its row; the engine volume goes here, once no container uses it
 * (the engine refuses before), so a volume is never pulled from under a running replica.
 */
export class VolumeController {
  private readonly passes: Passes;

  constructor(
    private readonly ctx: ControllerDeps,
    intervalMs = 5_000,
  ) {
    this.passes = new Passes(async () => void (await this.sweep()), (err) => this.ctx.log.warn({ err }, 'volume sweep failed'), intervalMs);
  }

  start(): void {
    this.passes.start();
  }

  stop(): Promise<void> {
    return this.passes.stop();
  }

  /** One pass: returns the engine volumes removed. */
  async sweep(): Promise<string[]> {
    const known = new Set(await allVolumeIds(this.ctx.db));
    const removed: string[] = [];
    for (const name of await this.ctx.runtime.listVolumes({ [LABEL.instance]: this.ctx.instanceId })) {
      const id = name.replace(/^berth-vol-/, 'vol_');
      if (!name.startsWith('berth-vol-') || known.has(id)) continue;
      if (await this.ctx.runtime.removeVolume(name)) {
        removed.push(name);
        this.ctx.log.info({ volume: name }, 'removed the engine volume of a deleted volume');
      }
    }
    return removed;
  }
}
