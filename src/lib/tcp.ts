import { connect, type NetConnectOpts } from 'node:net';

/** True when something accepts TCP connections at address:port within the timeout. */
export function answers(address: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return accepts({ host: address, port }, timeoutMs);
}

/** True when a fresh connection to the target (a TCP address or a Unix socket path) opens within the timeout. */
export function accepts(target: { host: string; port: number } | { path: string }, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ ...target, timeout: timeoutMs } as NetConnectOpts);
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.once('connect', () => done(true));
    s.once('timeout', () => done(false));
    s.once('error', () => done(false));
  });
}
