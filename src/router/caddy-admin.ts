import { request } from 'node:http';

export interface AdminResponse {
  status: number;
  body: string;
}

/**
 * Talks to Caddy's admin API at an address in Caddy's own syntax: "host:port" over TCP (fetch), or
 * "unix//path/to/sock" over a unix socket (node:http, which fetch cannot do without a custom dispatcher).
 * Network failures reject; HTTP error statuses resolve, the caller decides.
 */
export async function adminRequest(
  admin: string,
  method: 'GET' | 'POST',
  path: string,
  body?: string,
  timeoutMs = 10_000,
): Promise<AdminResponse> {
  const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' };
  const socketPath = unixPath(admin);
  if (socketPath) return viaSocket(socketPath, method, path, headers, body, timeoutMs);
  const url = `http://${admin.replace(/^tcp\//, '')}${path}`;
  try {
    return await viaFetch(url, method, headers, body, timeoutMs);
  } catch (err) {
    // A pooled keep-alive connection may belong to a Caddy that has since restarted; one fresh try.
    if (isTimeout(err)) throw err;
    return viaFetch(url, method, headers, body, timeoutMs);
  }
}

/** True when the admin endpoint answers at all (any HTTP status). */
export async function adminAnswers(admin: string, timeoutMs = 1000): Promise<boolean> {
  try {
    await adminRequest(admin, 'GET', '/config/', undefined, timeoutMs);
    return true;
  } catch {
    return false;
  }
}

export function unixPath(admin: string): string | undefined {
  return admin.startsWith('unix/') ? admin.slice('unix/'.length) : undefined;
}

async function viaFetch(
  url: string,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
  timeoutMs: number,
): Promise<AdminResponse> {
  const res = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, body: await res.text() };
}

function viaSocket(
  socketPath: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body: string | undefined,
  timeoutMs: number,
): Promise<AdminResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      // Caddy checks the Host header of admin requests; over a unix socket it accepts an empty one.
      { socketPath, path, method, headers: { ...headers, host: '' }, setHost: false, timeout: timeoutMs, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`caddy admin ${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

function isTimeout(err: unknown): boolean {
  return err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
}
