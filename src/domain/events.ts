import { EventEmitter } from 'node:events';
import type { Db } from '../store/db.js';
import { now } from '../store/db.js';
import { eventNames, insertEvent, listEvents, type EventView } from '../store/events.js';
import { MAX_PAYLOAD, type PubSub } from '../store/pubsub.js';

/** The channel events travel on between control planes. */
const CHANNEL = 'berth_events';

/**
 * Who caused an event: a user (by id: an API call, a push, a build they started, a release they
 * made) or one of Berth's own loops (by name: `apps` for the app controller's rollouts, crashes and
 * restarts, `builds`, `images`, `nodes`, ...).
 */
export type Actor = { user: string } | { system: string };

export type EventActor = { kind: 'user'; id: string; name: string } | { kind: 'system'; id: null; name: string };

export interface BerthEvent {
  id: number;
  project_id: string;
  app_id: string | null;
  /** The app it is about (null: none, or the app was deleted since). */
  app: { id: string; slug: string; name: string } | null;
  /** Null on events older than the actor column (migration 0019_events_actor). */
  actor: EventActor | null;
  /** app.created, release.live, container.crashed, ... */
  kind: string;
  message: string;
  data: Record<string, unknown> | null;
  created_at: string;
}

function view(e: EventView): BerthEvent {
  const actor: EventActor | null =
    e.actor_id !== null ? { kind: 'user', id: e.actor_id, name: e.actor ?? e.actor_id } : e.actor !== null ? { kind: 'system', id: null, name: e.actor } : null;
  return {
    id: e.id,
    project_id: e.project_id,
    app_id: e.app_id,
    app: e.app_id && e.app_slug !== null && e.app_name !== null ? { id: e.app_id, slug: e.app_slug, name: e.app_name } : null,
    actor,
    kind: e.kind,
    message: e.message,
    data: e.data,
    created_at: e.created_at,
  };
}

/** An event to record: who caused what, in which project (and app). */
export interface NewEvent {
  project_id: string;
  app_id?: string | null;
  kind: string;
  message: string;
  data?: Record<string, unknown>;
  actor: Actor;
}

/**
 * Every state change of apps, releases and containers is written here (so it survives restarts and
 * can be listed) and then fanned out to live subscribers (the /ws/events socket, the CLI).
 */
export class Events {
  private readonly bus = new EventEmitter();
  /**
   * relay: the other control planes on the same PostgreSQL; an event recorded here reaches their
   * subscribers, and theirs reach this one's (origin: this process, so its own come back to no one).
   */
  constructor(
    private readonly db: Db,
    private readonly relay?: { pubsub: PubSub; origin: string },
    /**
     * Written in the event's own transaction, for the kinds it applies to: what must exist exactly
     * when the event does (its notification deliveries). Other events are one insert, no transaction.
     */
    private readonly withEvent?: { applies: (kind: string) => boolean; write: (tx: Db, ev: BerthEvent) => Promise<void> },
  ) {
    this.bus.setMaxListeners(0);
    if (relay) {
      relay.pubsub.listen(CHANNEL, (payload) => {
        const m = parse(payload);
        if (m && m.o !== relay.origin) this.bus.emit('event', m.e);
      });
    }
  }

  async record(e: NewEvent) {
    const withEvent = this.withEvent?.applies(e.kind) ? this.withEvent : null;
    const ev = withEvent
      ? await this.db.transaction().execute(async (tx) => {
          const ev = await this.write(tx, e);
          await withEvent.write(tx, ev);
          return ev;
        })
      : await this.write(this.db, e);
    this.publish(ev);
    return ev;
  }

  /**
   * Writes an event through `db` (a transaction that also writes what the event says happened)
   * without telling anyone: the caller publishes it once that transaction has committed.
   */
  async write(db: Db, e: NewEvent): Promise<BerthEvent> {
    const appId = e.app_id ?? null;
    const userId = 'user' in e.actor ? e.actor.user : null;
    const names = await eventNames(db, appId, userId);
    const row = await insertEvent(db, {
      project_id: e.project_id,
      app_id: appId,
      kind: e.kind,
      message: e.message,
      data: e.data ?? null,
      created_at: now(),
      actor_id: userId,
      // A user deleted in between still has an id to show.
      actor: 'user' in e.actor ? (names.username ?? e.actor.user) : e.actor.system,
    });
    return view({ ...row, app_slug: names.app?.slug ?? null, app_name: names.app?.name ?? null });
  }

  /** Tells this process's subscribers, and the other control planes', about an event already written. */
  publish(ev: BerthEvent): void {
    this.bus.emit('event', ev);
    if (this.relay) {
      let payload = JSON.stringify({ o: this.relay.origin, e: ev });
      // NOTIFY's payload is bounded: a large event travels without its data (listing it has all of it).
      if (Buffer.byteLength(payload) > MAX_PAYLOAD) payload = JSON.stringify({ o: this.relay.origin, e: { ...ev, data: null, message: ev.message.slice(0, 1000) } });
      // Not awaited: the other instances' subscribers need not hold up the caller's rollout step.
      void this.relay.pubsub.notify(CHANNEL, payload).catch(() => {});
    }
  }

  subscribe(fn: (e: BerthEvent) => void): () => void {
    this.bus.on('event', fn);
    return () => this.bus.off('event', fn);
  }

  async list(projectIds: string[], opts: { appId?: string; after?: number; limit: number }): Promise<BerthEvent[]> {
    if (projectIds.length === 0) return [];
    return (await listEvents(this.db, projectIds, opts)).map(view);
  }
}

function parse(payload: string): { o: string; e: BerthEvent } | null {
  try {
    const m = JSON.parse(payload) as { o?: unknown; e?: BerthEvent };
    return typeof m.o === 'string' && m.e && typeof m.e.id === 'number' ? { o: m.o, e: m.e } : null;
  } catch {
    return null;
  }
}

/** The actor of what an API caller does. */
export const byUser = (u: { id: string }): Actor => ({ user: u.id });
