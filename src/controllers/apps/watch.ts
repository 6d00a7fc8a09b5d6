import { LABEL } from '../../runtime/labels.js';
import type { AppKit } from './kit.js';
import { onDie } from './observe.js';

/**
 * Follows engine events until the signal aborts, so a crash or an exit is acted on at once rather
 * than at the next tick. `schedule` reconciles one app; `all` every app (after the stream was down).
 */
export async function watchEngine(k: AppKit, schedule: (appId: string) => void, all: () => void): Promise<void> {
  let missed = false;
  while (!k.signal.aborted) {
    try {
      if (missed) {
        // Events sent while the stream was down are lost (an engine restart starts every
        // container at once): look at everything as soon as the engine answers again.
        await k.engineEvents.ping();
        missed = false;
        all();
      }
      for await (const ev of k.engineEvents.events({ [LABEL.instance]: k.instanceId }, k.signal)) {
        const appId = ev.labels[LABEL.app];
        if (!appId) continue;
        if (ev.action === 'die') k.exits.set(ev.containerId, ev.exitCode);
        if (ev.action === 'oom') k.ooms.add(ev.containerId);
        if (ev.action === 'destroy') {
          k.exits.delete(ev.containerId);
          k.ooms.delete(ev.containerId);
        }
        if (ev.action === 'die') await onDie(k, ev.containerId, ev.exitCode).catch((err) => k.log.warn({ err }, 'crash handling failed'));
        if (['die', 'oom', 'start', 'destroy'].includes(ev.action)) schedule(appId);
      }
    } catch (err) {
      if (!k.signal.aborted) k.log.warn({ err }, 'engine event stream broke; reconnecting');
    }
    // The stream only ends when the engine went away (a stopping engine closes it cleanly).
    missed = true;
    await k.clock.sleep(1000, k.signal);
  }
}
