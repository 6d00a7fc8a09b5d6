import { Agent, request } from 'node:http';

export interface Reply {
  status: number;
  body: string;
}

/** One request to the router with a Host header, as a browser resolving <slug>.localhost would send. */
export function viaRouter(port: number, host: string, path = '/', agent?: Agent, timeoutMs = 10_000): Promise<Reply> {
  return send(port, host, path, agent, timeoutMs).then((r) => r.reply);
}

/**
 * Sends one request on the agent, the way Node's http.Agent does by itself: no resend of any kind.
 * A request the router fails to answer, before or after it was sent, counts as failed.
 */
function send(port: number, host: string, path: string, agent: Agent | false | undefined, timeoutMs: number) {
  return once(port, host, path, agent, timeoutMs).then((reply) => ({ reply }));
}

function once(port: number, host: string, path: string, agent: Agent | false | undefined, timeoutMs: number): Promise<Reply> {
  return new Promise((resolve, reject) => {
    let reused = false;
    const req = request({ host: '127.0.0.1', port, path, headers: { host }, agent, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', (err) => reject(Object.assign(err, { afterResponse: true })));
    });
    req.on('socket', () => (reused = req.reusedSocket));
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => reject(Object.assign(err, { usedBefore: reused })));
    req.end();
  });
}

export interface LoadResult {
  sent: number;
  failed: number;
  /** The first few failures, each led by the time its request was sent, to say what went wrong. */
  failures: string[];
  /** Which replicas answered (the test app reports its hostname). */
  hostnames: Set<string>;
}

/**
 * Sends requests continuously through the router until stop() is called (or maxMs passes, so a
 * broken test cannot run forever). A failure is a connection error or any status >= 500.
 */
export function startLoad(opts: { port: number; host: string; concurrency?: number; path?: string; maxMs?: number }) {
  const agent = new Agent({ keepAlive: true, maxSockets: opts.concurrency ?? 4 });
  const result: LoadResult = { sent: 0, failed: 0, failures: [], hostnames: new Set() };
  let running = true;
  const hardStop = setTimeout(() => (running = false), opts.maxMs ?? 180_000);
  const worker = async () => {
    while (running) {
      result.sent++;
      const sentAt = new Date();
      try {
        const { reply: r } = await send(opts.port, opts.host, opts.path ?? '/', agent, 10_000);
        if (r.status >= 500) throw new Error(`HTTP ${r.status} ${r.body.slice(0, 80)}`);
        try {
          const h = (JSON.parse(r.body) as { hostname?: string }).hostname;
          if (h) result.hostnames.add(h);
        } catch {
          /* not the test app's JSON */
        }
      } catch (err) {
        result.failed++;
        const e = err as NodeJS.ErrnoException & { usedBefore?: boolean };
        if (result.failures.length < 10) {
          result.failures.push(`${sentAt.toISOString()} ${e.message}${e.code ? ` (${e.code}${e.usedBefore ? ', reused connection' : ''})` : ''}`);
        }
      }
    }
  };
  const workers = Array.from({ length: opts.concurrency ?? 4 }, worker);
  return {
    result,
    async stop(): Promise<LoadResult> {
      running = false;
      clearTimeout(hardStop);
      await Promise.all(workers);
      agent.destroy();
      return result;
    },
  };
}

/**
 * Runs `body` while a load runs against the router, and returns the load's figures. The load stops
 * whatever happens; when `body` fails, its error is what the test reports, not the load's.
 */
export async function withLoad(
  opts: Parameters<typeof startLoad>[0],
  body: (load: ReturnType<typeof startLoad>) => Promise<void>,
): Promise<LoadResult> {
  const load = startLoad(opts);
  try {
    await body(load);
  } catch (err) {
    await load.stop();
    throw err;
  }
  return load.stop();
}

/** What a user would check of a load run: not one request failed (there is no resend to hide one). */
export function assertNoDrops(r: LoadResult, what: string): void {
  if (r.failed !== 0) throw new Error(`${what}: ${r.failed} of ${r.sent} requests failed: ${r.failures.join('; ')}`);
}
