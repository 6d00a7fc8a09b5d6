import type { ControllerDeps } from './deps.js';
import type { Events } from '../domain/events.js';

/**
 * Records an event (the events stream keeps screens live) about work a controller did. The work is
 * already written; a failed event write is logged and never turns that work into a failure.
 */
export async function tell(d: Pick<ControllerDeps, 'events' | 'log'>, e: Parameters<Events['record']>[0]): Promise<void> {
  await d.events.record(e).then(
    () => {},
    (err) => d.log.warn({ err, kind: e.kind }, 'event not recorded'),
  );
}
