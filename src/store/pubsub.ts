
/**
 * Messages between the control planes that share one PostgreSQL (LISTEN/NOTIFY): an event recorded
 * on one instance reaches the WebSockets of every instance, a build's new log lines wake its readers
 * everywhere, the leader tells the others its routes changed. A message can be lost (a listener
 * reconnecting): receivers treat one as a hint and read the database, never as the only copy.
 * On SQLite there is one instance: nothing to send.
 */
export interface PubSub {
  notify(channel: string, payload: string): Promise<void>;
  listen(channel: string, fn: (payload: string) => void): () => void;
  close(): Promise<void>;
}

/** NOTIFY's payload limit is 8000 bytes. */
export const MAX_PAYLOAD = 7900;

export const noPubSub: PubSub = {
  notify: async () => {},
  listen: () => () => {},
  close: async () => {},
};

interface ListenClient {
  connect(): Promise<unknown>;
  query(text: string): Promise<unknown>;
  end(): Promise<void>;
  on(event: 'notification', fn: (m: { channel: string; payload?: string }) => void): unknown;
  on(event: 'error' | 'end', fn: (err?: unknown) => void): unknown;
}

/** One dedicated connection LISTENs (a pooled one would be handed to queries); it reconnects when lost. */
export class PgPubSub implements PubSub {
  private readonly handlers = new Map<string, Set<(payload: string) => void>>();
  private client: ListenClient | null = null;
  private connecting: Promise<void> | null = null;
  private closed = false;
  private retry?: NodeJS.Timeout;

  /** send: NOTIFY through the store's pool (any connection will do for sending). */
  constructor(
    private readonly send: (channel: string, payload: string) => Promise<void>,
    private readonly makeClient: () => ListenClient,
  ) {}

  notify(channel: string, payload: string): Promise<void> {
    return this.send(channel, payload);
  }

  listen(channel: string, fn: (payload: string) => void): () => void {
    let set = this.handlers.get(channel);
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
      if (this.client) void this.client.query(`LISTEN ${ident(channel)}`).catch(() => this.reconnect());
      else void this.connect();
    }
    set.add(fn);
    return () => set.delete(fn);
  }

  private connect(): Promise<void> {
    if (this.connecting || this.closed) return this.connecting ?? Promise.resolve();
    this.connecting = (async () => {
      const c = this.makeClient();
      c.on('notification', (m) => {
        for (const fn of this.handlers.get(m.channel) ?? []) fn(m.payload ?? '');
      });
      // Only the current connection's loss counts (an old one's 'end' arrives after its replacement).
      const lost = () => {
        if (this.client === c) this.reconnect();
      };
      c.on('error', lost);
      c.on('end', lost);
      try {
        await c.connect();
        for (const ch of this.handlers.keys()) await c.query(`LISTEN ${ident(ch)}`);
        this.client = c;
      } catch {
        await c.end().catch(() => {});
        this.scheduleRetry();
      }
    })().finally(() => (this.connecting = null));
    return this.connecting;
  }

  private reconnect(): void {
    const c = this.client;
    this.client = null;
    if (c) void c.end().catch(() => {});
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.closed || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.connect();
    }, 1000);
    this.retry.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    const c = this.client;
    this.client = null;
    await c?.end().catch(() => {});
  }
}

/** Channel names are Berth's own constants; checked anyway, since LISTEN takes no parameter. */
function ident(channel: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`bad channel name ${channel}`);
  return channel;
}
