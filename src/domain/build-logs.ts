import { EventEmitter } from 'node:events';

/**
 * Tells live readers (the log WebSocket) that a build has new lines in the database or a new
 * status. Readers always read from the database, so a notification can be missed or doubled
 * without losing or repeating a line. One per process, made at start and handed to the API and the
 * build controller.
 */
export class BuildLogHub {
  private readonly bus = new EventEmitter();
  constructor() {
    this.bus.setMaxListeners(0);
  }
  notify(buildId: string): void {
    this.bus.emit(buildId);
  }
  subscribe(buildId: string, fn: () => void): () => void {
    this.bus.on(buildId, fn);
    return () => this.bus.off(buildId, fn);
  }
}
