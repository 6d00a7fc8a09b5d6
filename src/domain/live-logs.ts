/** A line as the log views show it: the kept view's fields (docs/logs.md). */
export interface LiveLine {
  time: string;
  stream: string;
  line: string;
  container: string;
  process_type: string;
  replica: number;
  release: number;
}

/** Lines one app's subscriber may be handed per second; past it they are left out of its live view (the kept view has them). */
export const LIVE_LINES_PER_S = 2000;

/**
 * Lines the log store's collector makes itself (the router's access lines), handed to this
 * process's open live log views (/ws/apps/{id}/logs) as they come. Publishing is a map look-up
 * and, for an app someone is watching, one call per watcher: it runs in the router's reader, so
 * it never waits; each watcher gets at most LIVE_LINES_PER_S a second. Only the leader's collector
 * publishes; a view served by another control plane reads the router's lines from the kept store
 * instead (api/handlers/containers.ts).
 */
export class LiveLogs {
  private readonly watchers = new Map<string, Set<Watcher>>();

  /** Whether anyone here watches this app (the caller builds the line only then). */
  watched(appId: string): boolean {
    return this.watchers.has(appId);
  }

  publish(appId: string, line: LiveLine, nowMs = Date.now()): void {
    const set = this.watchers.get(appId);
    if (!set) return;
    for (const w of set) {
      const second = Math.floor(nowMs / 1000);
      if (w.second !== second) {
        w.second = second;
        w.sent = 0;
      }
      if (w.sent++ >= LIVE_LINES_PER_S) continue;
      try {
        w.fn(line);
      } catch {
        /* a watcher's failure (its socket closed) is its own */
      }
    }
  }

  subscribe(appId: string, fn: (l: LiveLine) => void): () => void {
    let set = this.watchers.get(appId);
    if (!set) this.watchers.set(appId, (set = new Set()));
    const w: Watcher = { fn, second: 0, sent: 0 };
    set.add(w);
    return () => {
      set.delete(w);
      if (!set.size && this.watchers.get(appId) === set) this.watchers.delete(appId);
    };
  }
}

interface Watcher {
  fn: (l: LiveLine) => void;
  second: number;
  sent: number;
}
