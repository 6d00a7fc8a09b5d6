import { EventEmitter } from 'node:events';
import type { Db } from '../store/db.js';
import { now } from '../store/db.js';
import { insertEvent, listEvents } from '../store/events.js';

export interface BerthEvent {
  id: number;
  project_id: string;
  app_id: string | null;
  /** app.created, release.live, container.crashed, ... */
  kind: string;
  message: string;
  data: Record<string, unknown> | null;
  created_at: string;
}

/**
 * Every state change of apps, releases and containers is written here (so it survives restarts and
 * can be listed) and then fanned out to live subscribers (the /ws/events socket, the CLI).
 */
export class Events {
  private readonly bus = new EventEmitter();
  constructor(private readonly db: Db) {
    this.bus.setMaxListeners(0);
  }

  async record(e: { project_id: string; app_id?: string | null; kind: string; message: string; data?: Record<string, unknown> }) {
    const ev: BerthEvent = await insertEvent(this.db, {
      project_id: e.project_id,
      app_id: e.app_id ?? null,
      kind: e.kind,
      message: e.message,
      data: e.data ?? null,
      created_at: now(),
    });
    this.bus.emit('event', ev);
    return ev;
  }

  subscribe(fn: (e: BerthEvent) => void): () => void {
    this.bus.on('event', fn);
    return () => this.bus.off('event', fn);
  }

  async list(projectIds: string[], opts: { appId?: string; after?: number; limit: number }): Promise<BerthEvent[]> {
    if (projectIds.length === 0) return [];
    return listEvents(this.db, projectIds, opts);
  }
}
