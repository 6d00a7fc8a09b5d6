import { createConnection } from 'node:net';

/**
 * HAProxy's runtime API (the "stats socket" and the master CLI), one command per connection.
 * Commands are built only from values that passed ./validate.ts; this client refuses a line that
 * could still carry a second command (a newline or ';'), as a last guard.
 */
/** How long a socket that refuses connections is tried again (a master re-executing takes milliseconds). */
const CONNECT_RETRY_MS = 2000;

export class RuntimeApi {
  constructor(
    readonly socketPath: string,
    private readonly timeoutMs = 10_000,
    /**
     * Whether the HAProxy behind the socket is alive: a refused connection is tried again only while
     * it is, so a command to a dead proxy fails at once instead of holding the router's queue (and
     * the restart queued behind it) for the whole retry time.
     */
    private readonly alive: () => boolean = () => true,
  ) {}

  /** Sends one command and returns HAProxy's whole answer. `payload` is sent as `<<` data (PEM). */
  send(command: string, payload?: string): Promise<string> {
    if (/[\n\r;]/.test(command)) throw new Error(`refusing a runtime API line with a separator: ${JSON.stringify(command)}`);
    if (payload !== undefined && /\n\n/.test(payload)) throw new Error('refusing a runtime API payload with a blank line');
    const line = payload === undefined ? `${command}\n` : `${command} <<\n${payload.replace(/\n$/, '')}\n\n`;
    return this.connectRetrying(command, line);
  }

  /**
   * The master re-executes itself after every start and reload (HAProxy 2.5+ "wait mode") and binds
   * its CLI socket anew, so for a moment nothing accepts on it. A refused or missing socket means
   * nothing was sent: trying again is safe for every command, for a bounded time.
   */
  private async connectRetrying(command: string, line: string): Promise<string> {
    const deadline = Date.now() + CONNECT_RETRY_MS;
    for (;;) {
      try {
        return await this.once(command, line);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if ((code !== 'ECONNREFUSED' && code !== 'ENOENT') || Date.now() >= deadline || !this.alive()) throw err;
        await new Promise((r) => setTimeout(r, 25));
      }
    }
  }

  private once(command: string, line: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const sock = createConnection(this.socketPath);
      const chunks: Buffer[] = [];
      sock.setTimeout(this.timeoutMs, () => sock.destroy(new Error(`haproxy runtime API: "${command}" timed out`)));
      sock.on('connect', () => sock.end(line));
      sock.on('data', (c: Buffer) => chunks.push(c));
      sock.on('error', reject);
      sock.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });
  }

  /** Sends a command whose success answer is empty (or matches `ok`); anything else is an error. */
  async ok(command: string, ok?: RegExp, payload?: string): Promise<string> {
    const answer = await this.send(command, payload);
    const text = answer.trim();
    if (text === '' || ok?.test(text)) return text;
    throw new Error(`haproxy rejected "${command}": ${text}`);
  }

  /** True when something answers on the socket now (no retry: callers poll, and a stopped proxy must read as stopped at once). */
  async answers(): Promise<boolean> {
    try {
      return (await this.once('show info', 'show info\n')).includes('Pid:');
    } catch {
      return false;
    }
  }
}
