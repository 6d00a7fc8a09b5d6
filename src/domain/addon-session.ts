/**
 * A psql or redis-cli session on an add-on, as the API's WebSocket handler sees it. The add-on
 * controller owns the helper container behind it (controllers/addons/session.ts); the API reaches
 * it through ApiContext.addonSession, so both sides share these shapes from here.
 */
export interface SessionOptions {
  args: string[];
  tty: boolean;
  timeoutS: number;
  /** Each piece of output, in order (stream null on a terminal); the session waits for the promise (backpressure). */
  onOutput: (text: string, stream: 'stdout' | 'stderr' | null) => void | Promise<void>;
}

export interface SessionEnd {
  exit_code: number | null;
  reason: string | null;
}

export interface AddonSession {
  /** To the client's stdin (its terminal with a tty). */
  write(text: string): void;
  /** Closes a pipe's stdin (no tty): psql or redis-cli reading a script sees its end. */
  end(): void;
  resize(cols: number, rows: number): void;
  /** Settles when the client has exited and its helper is gone. */
  done: Promise<SessionEnd>;
}
