import { appById } from '../../store/apps.js';
import { HealthError } from '../health.js';
import { event, type AppKit } from './kit.js';

/** Failures in a row (about 3 s with the default backoff: 1 s, then 2 s) before an app's users are told. */
const STUCK_AFTER = 3;

/**
 * What an app's users may read of a failure: the engine's words, or the app's own (its image out
 * of reach, a replica refused). Anything else (the router, the database) may name other tenants'
 * hosts or data, so it is named only by its kind; the server log has it whole.
 */
function tellable(err: unknown): string {
  const message = (err instanceof Error ? err.message : String(err)).slice(0, 300);
  if (err instanceof HealthError) return message;
  if (typeof (err as { statusCode?: unknown })?.statusCode === 'number' || /docker engine/i.test(message)) return `the Docker Engine: ${message}`;
  return 'an error inside Berth (the server log has it)';
}

/**
 * A reconcile that keeps failing (STUCK_AFTER times in a row) is told to the app's users as an
 * event with the reason, once per reason, and its end too: otherwise a deploy that cannot start
 * (an engine refusing, an image the anchor needs missing) would say `deploying` and nothing else.
 */
export class StuckApps {
  /** Apps whose reconcile keeps failing, with the reasons already told to their users in this spell. */
  private readonly stuck = new Map<string, Set<string>>();

  constructor(private readonly kit: AppKit) {}

  /** A failed reconcile, the `failures`-th in a row. */
  async failed(appId: string, err: unknown, failures: number): Promise<void> {
    const reason = tellable(err);
    const told = this.stuck.get(appId) ?? new Set<string>();
    if (failures >= STUCK_AFTER && !told.has(reason)) {
      this.stuck.set(appId, told.add(reason));
      await this.tell(appId, 'app.stuck', (name) => `Berth cannot bring ${name} to its desired state (${failures} tries in a row): ${reason}; it keeps trying`);
    }
  }

  async succeeded(appId: string): Promise<void> {
    if (this.stuck.delete(appId)) await this.tell(appId, 'app.recovered', (name) => `Berth acts on ${name} again`);
  }

  private async tell(appId: string, kind: string, message: (name: string) => string): Promise<void> {
    try {
      const app = await appById(this.kit.db, appId);
      if (app) await event(this.kit, app, kind, message(app.name));
    } catch (err) {
      this.kit.log.warn({ err, appId }, 'event not recorded');
    }
  }
}
