import { accepts } from '../../lib/tcp.js';
import { connect, messageOf, statusOf, type Dockerode, type ModemOptions } from '../engine-api.js';

const DEFAULT_SOCKET = '/var/run/docker.sock';

export function modemOptions(dockerHost: string | undefined): ModemOptions {
  const host = dockerHost || DEFAULT_SOCKET;
  if (host.startsWith('/')) return { socketPath: host };
  if (host.startsWith('unix://')) return { socketPath: host.slice('unix://'.length) || DEFAULT_SOCKET };
  const url = new URL(host);
  if (url.protocol === 'tcp:' || url.protocol === 'http:' || url.protocol === 'https:') {
    const https = url.protocol === 'https:';
    return { host: url.hostname, port: Number(url.port) || (https ? 2376 : 2375), protocol: https ? 'https' : 'http' };
  }
  throw new Error(`unsupported DOCKER_HOST ${host}: use unix:// or tcp://`);
}

/** The two connections to one engine every part of the Docker runtime shares, and its call discipline. */
export class EngineClient {
  /** Short calls: the modem's socket idle timeout backs up each call's own deadline. */
  readonly api: Dockerode;
  /** Long-lived streams (follow, events, build, stop): no idle timeout, ended by signals instead. */
  readonly streams: Dockerode;
  /** Limit for each short engine call (inspect, create, list, ...). */
  readonly callTimeoutMs: number;
  private readonly socketPath: string | undefined;

  constructor(opts: { dockerHost?: string; callTimeoutMs?: number }) {
    const modem = modemOptions(opts.dockerHost ?? process.env.DOCKER_HOST);
    this.callTimeoutMs = opts.callTimeoutMs ?? 30_000;
    this.socketPath = modem.socketPath;
    this.api = connect({ ...modem, timeout: this.callTimeoutMs });
    this.streams = connect(modem);
  }

  /**
   * Whether the engine takes new connections. Calls reuse open connections, which a stopping engine
   * still serves after it removed its socket: only a fresh connection tells. (Over TCP: assumed.)
   */
  acceptsConnections(): Promise<boolean> {
    return this.socketPath ? accepts({ path: this.socketPath }, 5000) : Promise.resolve(true);
  }

  /**
   * Runs one engine call under a deadline (a short call's, unless given). Status codes in `ok`
   * mean "already in the wanted state" and resolve to null.
   */
  async call<T>(what: string, fn: (signal: AbortSignal) => Promise<T>, ok: number[] = [], ms = this.callTimeoutMs): Promise<T> {
    const signal = AbortSignal.timeout(ms);
    try {
      return await fn(signal);
    } catch (err) {
      const status = statusOf(err);
      if (status !== undefined && ok.includes(status)) return null as T;
      if (signal.aborted) throw new Error(`docker ${what} timed out after ${ms} ms`, { cause: err });
      throw engineError(what, err);
    }
  }
}

export function withDeadline(ms: number, signal?: AbortSignal): AbortSignal {
  const deadline = AbortSignal.timeout(ms);
  return signal ? AbortSignal.any([deadline, signal]) : deadline;
}

export function engineError(what: string, err: unknown): Error {
  const e = new Error(`docker ${what}: ${messageOf(err).trim()}`);
  (e as Error & { statusCode?: number }).statusCode = statusOf(err);
  return e;
}

export function labelFilters(labels: Record<string, string>): string[] {
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`);
}
