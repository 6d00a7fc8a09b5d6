import { createConnection } from 'node:net';

/**
 * HAProxy's runtime API (the "stats socket" and the master CLI), one command per connection.
 * Commands are built only from values that passed ./validate.ts; this client refuses a line that
 * could still carry a second command (a newline or ';'), as a last guard.
 */
export class RuntimeApi {
  constructor(
    readonly socketPath: string,
    private readonly timeoutMs = 10_000,
  ) {}

  /** Sends one command and returns HAProxy's whole answer. `payload` is sent as `<<` data (PEM). */
  send(command: string, payload?: string): Promise<string> {
    if (/[\n\r;]/.test(command)) throw new Error(`refusing a runtime API line with a separator: ${JSON.stringify(command)}`);
    if (payload !== undefined && /\n\n/.test(payload)) throw new Error('refusing a runtime API payload with a blank line');
    const line = payload === undefined ? `${command}\n` : `${command} <<\n${payload.replace(/\n$/, '')}\n\n`;
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

  /** True when something answers on the socket. */
  async answers(): Promise<boolean> {
    try {
      return (await this.send('show info')).includes('Pid:');
    } catch {
      return false;
    }
  }
}
