import type { BerthClient } from '../client/index.js';
import type { RouteOutput } from '../api/contract/index.js';

export type Build = RouteOutput<'getBuild'>;

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/**
 * Prints log lines; on a terminal it also keeps a spinner line under them naming the current
 * step ("-----> ..." lines) and the time spent, so a silent step does not look like a hang.
 */
export class Progress {
  private status = '';
  private frame = 0;
  private readonly started = Date.now();
  private timer: NodeJS.Timeout | null = null;
  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly tty = !!out.isTTY && process.env.TERM !== 'dumb',
  ) {
    if (this.tty) this.timer = setInterval(() => this.draw(), 100);
  }
  line(text: string) {
    if (text.startsWith('-----> ')) this.status = text.slice(7);
    if (this.tty) this.out.write('\r\x1b[K');
    this.out.write(`${text}\n`);
    this.draw();
  }
  step(text: string) {
    this.status = text;
    this.draw();
  }
  private draw() {
    if (!this.tty || !this.status) return;
    const secs = Math.floor((Date.now() - this.started) / 1000);
    this.frame = (this.frame + 1) % FRAMES.length;
    this.out.write(`\r\x1b[K${FRAMES[this.frame]} ${this.status.slice(0, (this.out.columns || 80) - 12)} ${secs}s`);
  }
  stop() {
    if (this.timer) clearInterval(this.timer);
    if (this.tty) this.out.write('\r\x1b[K');
  }
}

/** Streams a build's log over the WebSocket until the final status; polls the JSON log if the socket fails. */
export async function followBuild(client: BerthClient, buildId: string, onLine: (line: string) => void): Promise<Build> {
  let last = 0;
  const emit = (seq: number, line: string) => {
    if (seq <= last) return;
    last = seq;
    onLine(line);
  };
  let final = false;
  const viaSocket = await client
    .stream('followBuildLog', { params: { id: buildId } }, (msg) => {
      if (msg.type === 'line') emit(msg.seq, msg.line);
      else final = true;
    })
    .then(
      () => final,
      () => false,
    );
  if (!viaSocket) {
    for (;;) {
      const log = await client.call('getBuildLog', { params: { id: buildId }, query: { after: last } });
      for (const l of log.lines) emit(l.seq, l.line);
      if (['succeeded', 'failed', 'canceled'].includes(log.status) && log.lines.length === 0) break;
      if (log.lines.length === 0) await new Promise((r) => setTimeout(r, 1000));
    }
  }
  return client.call('getBuild', { params: { id: buildId } });
}

export type App = RouteOutput<'getApp'>;

/** Waits for the app's rollout to settle (running, failed or stopped), up to timeoutMs. */
export async function waitRollout(client: BerthClient, app: string, timeoutMs: number): Promise<App> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const a = await client.call('getApp', { params: { id: app } });
    if (!['deploying', 'idle'].includes(a.status) || Date.now() > deadline) return a;
    await new Promise((r) => setTimeout(r, 1000));
  }
}
