/**
 * What Berth has told HAProxy, kept in memory and on disk (state.json beside haproxy.cfg). The
 * config file and map files are always rendered from it, so a restarted HAProxy comes back with
 * every route even before the control plane re-applies them.
 */
export interface Slot {
  /** "ip:port" */
  upstream: string;
  /** ready: takes new requests; drain: keeps what it has, gets nothing new. */
  state: 'ready' | 'drain';
}

export interface BackendState {
  /** Preallocated backend name, b0..bN. */
  name: string;
  /** App slug served by this backend; null = free (in the pool). */
  app: string | null;
  hosts: string[];
  healthPath: string;
  drainMs: number;
  /** Its app was removed; the backend returns to the pool once its last replica drained. */
  retired?: boolean;
  /** Counters when the app (key BACKEND) or each replica (key sN) took this backend or slot. */
  base?: Record<string, Record<string, number>>;
  /** One entry per server slot s1..sN; null = free slot (server in maintenance). */
  slots: (Slot | null)[];
}

export interface CertState {
  name: string;
  hosts: string[];
  /** sha256 of cert+key, to know when `set ssl cert` must replace it. */
  digest: string;
}

export interface RouterState {
  slotsPerBackend: number;
  backends: BackendState[];
  /** Tokens of custom domains waiting for their check (/.well-known/berth-verify/<token>). */
  /** Custom-domain check answers, "<host>/<token>". */
  challenges: string[];
  /** ACME HTTP-01 answers, token -> key authorization. */
  acme: Record<string, string>;
  certs: CertState[];
}

export function emptyBackend(i: number, slots: number): BackendState {
  return { name: `b${i}`, app: null, hosts: [], healthPath: '/', drainMs: 30_000, slots: Array.from({ length: slots }, () => null) };
}

export function initialState(pool: number, slots: number): RouterState {
  return {
    slotsPerBackend: slots,
    backends: Array.from({ length: pool }, (_, i) => emptyBackend(i, slots)),
    challenges: [],
    acme: {},
    certs: [],
  };
}

/** Grows the pool or every backend's slots (only ever grows: names stay stable across reloads). */
export function grow(state: RouterState, pool: number, slots: number): void {
  state.slotsPerBackend = Math.max(state.slotsPerBackend, slots);
  for (const b of state.backends) while (b.slots.length < state.slotsPerBackend) b.slots.push(null);
  for (let i = state.backends.length; i < pool; i++) state.backends.push(emptyBackend(i, state.slotsPerBackend));
}
