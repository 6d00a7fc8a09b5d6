/**
 * The edge router, as the rest of Berth sees it. Controllers compute the desired routes from the
 * database and hand the whole set to apply(); the implementation (HAProxy, under ./haproxy/) is
 * the only code that talks to the proxy process.
 */

export interface Route {
  /** Hostnames served by this route: the app's slug host and its verified custom domains (already validated). */
  hosts: string[];
  /** App slug, named on the 503 page. */
  app: string;
  /** "ip:port" of the replicas in rotation. Empty = answer 503 naming the app. */
  upstreams: string[];
  /** Path the router probes on each replica (active health checks). */
  healthPath?: string;
  /** How long a replica leaving rotation keeps its in-flight requests and streams (default 30 000). */
  drainTimeoutMs?: number;
}

/** A custom domain's check token, answered only for its own host. */
export interface Challenge {
  host: string;
  token: string;
}

export interface Certificate {
  /** Stable id, /^[a-z0-9][a-z0-9-]{0,62}$/ (e.g. 'cert-' + hash); used as a file name. */
  name: string;
  /** SNI names it serves (validated hostnames; wildcard '*.x' allowed). */
  hosts: string[];
  /** Leaf first, then chain. */
  certPem: string;
  keyPem: string;
}

/** Counters of one backend or server, from the proxy's own statistics. */
export interface TrafficCounters {
  /** Requests per second over the proxy's last second. */
  reqRate: number;
  requestsTotal: number;
  responses: { '1xx': number; '2xx': number; '3xx': number; '4xx': number; '5xx': number; other: number };
  currentSessions: number;
  /** Averages over the last 1024 requests, in ms. */
  queueTimeMs: number;
  connectTimeMs: number;
  responseTimeMs: number;
  totalTimeMs: number;
}

export interface AppStats {
  app: string;
  total: TrafficCounters;
  replicas: Array<TrafficCounters & { upstream: string; status: string }>;
}

/** Response times (ms) of the requests an app's replicas answered in one window: all of them, and per replica upstream. */
export interface ResponseTimes {
  all: number[];
  replicas: Map<string, number[]>;
}

export interface Router {
  /** Starts the proxy as its own detached process unless one is already answering on its admin endpoint. */
  ensureRunning(): Promise<void>;
  /**
   * Makes the proxy's configuration equal to these routes (idempotent, no restart, no dropped request);
   * starts the proxy with them when it is not running, so it never listens without its routes.
   * Each challenge token is answered (200, the token as body) at /.well-known/berth-verify/<token>
   * for its own host only: that is how a custom domain proves its DNS points here, and one claim's
   * token proves nothing for another name.
   * Resolves once removed upstreams have drained; `loaded` is called as soon as the proxy serves
   * the new routes, before that wait, with the upstreams this load removed, so the next change need
   * not queue behind the drain.
   */
  apply(routes: Route[], challenges?: Challenge[], loaded?: (removed: string[]) => void): Promise<void>;
  /** The routes the proxy serves now, as Berth last applied them (read back from the proxy). */
  current(): Promise<Route[]>;
  /**
   * Makes the router serve exactly these certificates by SNI, at runtime (new/set/commit ssl cert + crt-list),
   * no reload. Also written to disk so a restarted proxy serves them at once. A host without a certificate
   * gets the default one.
   */
  setCertificates(certs: Certificate[]): Promise<void>;
  /**
   * ACME HTTP-01 answers, token -> key authorization, served as text/plain at
   * http://<any host>/.well-known/acme-challenge/<token> on the HTTP port (even when redirect-to-HTTPS is on).
   */
  setAcmeChallenges(answers: Record<string, string>): Promise<void>;
  /** Per-app traffic counters (app and each replica); null when the app has no route. */
  stats(app: string): Promise<AppStats | null>;
  /**
   * The response times (ms) of the requests answered since the last call, per app slug (a sample
   * of at most a few thousand per app and replica). The first call starts the collection and
   * returns nothing. Optional: a router without it has averages only.
   */
  responseTimes?(): Map<string, ResponseTimes>;
  /**
   * Tells `listener` of each request an app's replica answered, as the router logs it (the log
   * store's router lines), from now on; null stops. Called in the router's reader: it must be
   * quick and must not wait. Null also stops the reading and the response times it keeps (the
   * leader's term ended). Optional: a router without it keeps no access lines.
   */
  onRequest?(listener: ((r: RoutedRequest) => void) | null): void;
}

/** One request the router passed to an app, as it logged it. */
export interface RoutedRequest {
  /** The app's slug. */
  app: string;
  /** The address that answered ("10.0.0.5:8080"): which replica. */
  upstream: string;
  client: string;
  /** The request line ("GET /path HTTP/1.1"), non-printable bytes escaped by the router. */
  request: string;
  status: number;
  bytes: number;
  /** Time to connect to the replica, to its response headers, and the whole request's (ms; -1: never). */
  connectMs: number;
  serviceMs: number;
  totalMs: number;
}
