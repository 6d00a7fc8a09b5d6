import { constants } from 'node:os';
import type { ListeningSocket } from '../runtime/types.js';

/**
 * Failures in words a developer can act on: why a replica never answered, decided from what the
 * runtime can see (exit code, the kernel's out-of-memory kill, the sockets the process listens on)
 * instead of waiting out the health check's timeout.
 */

const SIGNALS = new Map(Object.entries(constants.signals).map(([name, n]) => [n, name]));

/** Why a process ended before it became healthy. */
export function explainExit(info: { exitCode: number | null | undefined; oomKilled?: boolean; memoryMb?: number }): string {
  const code = info.exitCode;
  if (info.oomKilled) {
    const limit = info.memoryMb ? ` of ${info.memoryMb} MB` : '';
    return `the process was killed for going over its memory limit${limit} (out of memory, exit code ${code ?? 137}) before it became healthy: give the app more memory (berth apps update APP --memory MB) or make it use less`;
  }
  if (code === null || code === undefined) return 'the container exited with code unknown before it became healthy';
  if (code > 128 && SIGNALS.has(code - 128)) {
    return `the process was killed by ${SIGNALS.get(code - 128)} (exited with code ${code} before it became healthy)`;
  }
  if (code === 0) return 'the process exited with code 0 before it became healthy: a web process must keep running and listen on $PORT';
  return `the process exited with code ${code} before it became healthy: its last log lines say why`;
}

const isLoopback = (address: string) => address === '::1' || address.startsWith('127.');

export type Listening =
  /** Something answers on the port from outside the container: the probe's answer is the story. */
  | { kind: 'reachable' }
  /** Listening on the port, but only on a loopback address: certain, nothing outside can reach it. */
  | { kind: 'loopback'; message: string }
  /** Listening, but on other ports only: likely the wrong port, certain once it lasts. */
  | { kind: 'other-port'; message: string }
  /** Nothing listens yet: still starting, or never will. */
  | { kind: 'nothing'; message: string };

/** What the sockets a replica listens on say about why it does not answer on `port`. */
export function diagnoseListening(sockets: ListeningSocket[], port: number): Listening {
  const onPort = sockets.filter((s) => s.port === port);
  if (onPort.some((s) => !isLoopback(s.address))) return { kind: 'reachable' };
  if (onPort.length > 0) {
    const where = onPort.map((s) => (s.address.includes(':') ? `[${s.address}]:${s.port}` : `${s.address}:${s.port}`)).join(' and ');
    return {
      kind: 'loopback',
      message:
        `the app listens on ${where} only, inside its container, where the router cannot reach it: ` +
        `make it listen on all interfaces, 0.0.0.0 (for example HOST=0.0.0.0, or listen(${port}, '0.0.0.0'))`,
    };
  }
  const others = [...new Set(sockets.map((s) => s.port))].sort((a, b) => a - b);
  if (others.length > 0) {
    const list = others.length === 1 ? `port ${others[0]}` : `ports ${others.join(', ')}`;
    return {
      kind: 'other-port',
      message: `the app listens on ${list}, not on ${port}: make it listen on the port in the PORT environment variable (${port}), or set the app's port to the one it uses (berth apps update APP --port N)`,
    };
  }
  return { kind: 'nothing', message: `nothing listens on port ${port} in the container yet` };
}
