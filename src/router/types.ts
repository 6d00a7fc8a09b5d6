/**
 * The edge router, as the rest of Berth sees it. Controllers compute the desired routes from the
 * database and hand the whole set to apply(); the Caddy implementation lives beside it.
 */

export interface Route {
  /** Hostnames served by this route: the app's slug host and its verified custom domains. */
  hosts: string[];
  /** App slug, named on the 503 page. */
  app: string;
  /** "ip:port" of the healthy replicas that take traffic. Empty = answer 503. */
  upstreams: string[];
}

export interface Router {
  /** Starts the proxy as its own detached process unless one is already answering on its admin endpoint. */
  ensureRunning(): Promise<void>;
  /**
   * Makes the proxy's configuration equal to these routes (idempotent, no restart, no dropped request).
   * Each challenge token is answered (200, the token as body) at /.well-known/berth-verify/<token> on
   * every host: that is how a custom domain proves its DNS points here.
   * Resolves once removed upstreams have drained; `loaded` is called as soon as the proxy serves
   * the new routes, before that wait, with the upstreams this load removed, so the next change need
   * not queue behind the drain.
   */
  apply(routes: Route[], challenges?: string[], loaded?: (removed: string[]) => void): Promise<void>;
  /** The routes the proxy serves now, as Berth last applied them (read back from the proxy). */
  current(): Promise<Route[]>;
}
