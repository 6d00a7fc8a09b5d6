import type { BerthClient } from '../client/index.js';
import type { RouteOutput } from '../api/contract/index.js';

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** A one-line spinner on a terminal; plain lines (only when the text changes) otherwise. */
export class Spinner {
  private i = 0;
  private last = '';
  private timer?: NodeJS.Timeout;
  private text = '';
  constructor(private readonly enabled = !!process.stderr.isTTY) {}

  update(text: string) {
    this.text = text;
    if (!this.enabled) {
      if (text !== this.last) process.stderr.write(`${text}\n`);
      this.last = text;
      return;
    }
    this.timer ??= setInterval(() => this.draw(), 100);
    this.draw();
  }

  private draw() {
    process.stderr.write(`\r\x1b[2K${FRAMES[this.i++ % FRAMES.length]} ${this.text}`);
  }

  done(text: string) {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.enabled) process.stderr.write('\r\x1b[2K');
    process.stderr.write(`${text}\n`);
  }
}

type Release = RouteOutput<'getRelease'>;

/**
 * Follows a release until it is live or has failed, showing the replicas as they start and pass
 * their health checks. Resolves with the final release.
 */
export async function followRollout(client: BerthClient, app: string, version: number, opts: { quiet?: boolean; timeoutMs?: number } = {}): Promise<Release> {
  const spin = new Spinner(opts.quiet ? false : undefined);
  const deadline = Date.now() + (opts.timeoutMs ?? 15 * 60_000);
  for (;;) {
    const rel = await client.call('getRelease', { params: { id: app, version } });
    if (rel.status !== 'pending' && rel.status !== 'deploying') {
      if (!opts.quiet) spin.done(rel.status === 'live' ? `v${version} is live` : `v${version} ${rel.status}${rel.reason ? `: ${rel.reason}` : ''}`);
      return rel;
    }
    if (!opts.quiet) {
      const ctrs = (await client.call('listContainers', { query: { app } })).items.filter((c) => c.release === version && c.process_type === 'web');
      const healthy = ctrs.filter((c) => c.status === 'healthy').length;
      spin.update(`v${version} ${rel.status} (${rel.config.strategy}): ${healthy}/${rel.config.replicas} replicas healthy`);
    }
    if (Date.now() > deadline) throw new Error(`v${version} is still ${rel.status}; follow it with \`berth releases ${app}\``);
    await new Promise((r) => setTimeout(r, 500));
  }
}
