import { EventEmitter } from 'node:events';
import type { PubSub } from '../store/pubsub.js';

const CHANNEL = 'berth_build_logs';
/** The bus's event for written lines (a build id is a ULID-like id: never this). */
const LINES = '\u0000lines';

/**
 * Tells live readers (the log WebSocket) that a build has new lines in the database or a new
 * status. Readers always read from the database, so a notification can be missed or doubled
 * without losing or repeating a line. One per process, made at start and handed to the API and the
 * build controller.
 */
export class BuildLogHub {
  private readonly bus = new EventEmitter();
  /** relay: the other control planes on the same PostgreSQL (a build runs on the leader, its readers anywhere). */
  constructor(private readonly relay?: { pubsub: PubSub; origin: string }) {
    this.bus.setMaxListeners(0);
    relay?.pubsub.listen(CHANNEL, (payload) => {
      const [origin, buildId] = payload.split(' ');
      if (origin !== relay.origin && buildId) this.bus.emit(buildId);
    });
  }
  notify(buildId: string): void {
    this.bus.emit(buildId);
    void this.relay?.pubsub.notify(CHANNEL, `${this.relay.origin} ${buildId}`).catch(() => {});
  }
  /**
   * Lines a build of this process wrote, once they are in the database (the drains send them on).
   * Local only: a build runs on the leader, where the drains run.
   */
  written(buildId: string, lines: { line: string; created_at: string }[]): void {
    if (lines.length) this.bus.emit(LINES, buildId, lines);
  }
  onWritten(fn: (buildId: string, lines: { line: string; created_at: string }[]) => void): () => void {
    this.bus.on(LINES, fn);
    return () => this.bus.off(LINES, fn);
  }
  subscribe(buildId: string, fn: () => void): () => void {
    this.bus.on(buildId, fn);
    return () => this.bus.off(buildId, fn);
  }
}
