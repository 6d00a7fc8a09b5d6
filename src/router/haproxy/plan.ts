import type { Route } from '../types.js';
import type { RouterState } from './state.js';

/** A replica taken out of rotation by this change: slot `slot` of `backend`, drained for up to `ms`. */
export interface Drain {
  backend: string;
  slot: number;
  upstream: string;
  ms: number;
}

export interface Plan {
  drains: Drain[];
  /** Set when the pool or the slots are too small: the sizes to grow to (then plan again). */
  grow?: { pool: number; slots: number };
}

/**
 * Changes `s` (a copy of the router state) to serve `want`: each app keeps its backend, a new app
 * takes a free one from the pool, a replica keeps its slot (a draining one comes back to `ready`),
 * a new replica takes a free slot, a replica no longer wanted goes to `drain`. Pure: no I/O.
 */
export function plan(s: RouterState, want: Required<Route>[], challenges: string[]): Plan {
  const drains: Drain[] = [];
  const byApp = new Map(want.map((r) => [r.app, r]));
  s.challenges = challenges;
  const drainOut = (b: RouterState['backends'][number], keep: Set<string>) => {
    b.slots.forEach((slot, i) => {
      if (slot?.state === 'ready' && !keep.has(slot.upstream)) {
        slot.state = 'drain';
        drains.push({ backend: b.name, slot: i, upstream: slot.upstream, ms: b.drainMs });
      }
    });
  };

  for (const b of s.backends) {
    if (b.app === null || (byApp.has(b.app) && !b.retired)) continue;
    b.hosts = [];
    b.retired = true;
    drainOut(b, new Set());
    if (b.slots.every((x) => x === null)) Object.assign(b, { app: null, retired: false });
  }

  let missingBackends = 0;
  let slotsNeeded = s.slotsPerBackend;
  for (const r of want) {
    // Never a retired backend (a deleted app's, its replicas still draining): an app created since
    // with the same name gets a backend of its own, so the old app's last requests stay its own.
    const b = s.backends.find((x) => x.app === r.app && !x.retired) ?? s.backends.find((x) => x.app === null);
    if (!b) {
      missingBackends++;
      slotsNeeded = Math.max(slotsNeeded, r.upstreams.length);
      continue;
    }
    Object.assign(b, { app: r.app, hosts: r.hosts, healthPath: r.healthPath, drainMs: r.drainTimeoutMs, retired: false });
    const keep = new Set(r.upstreams);
    drainOut(b, keep);
    const fresh = r.upstreams.filter((u) => !b.slots.some((x) => x?.upstream === u));
    const occupied = b.slots.filter((x) => x !== null).length + fresh.length;
    if (occupied > b.slots.length) {
      slotsNeeded = Math.max(slotsNeeded, occupied);
      continue;
    }
    for (const u of r.upstreams) {
      const at = b.slots.findIndex((x) => x?.upstream === u);
      b.slots[at >= 0 ? at : b.slots.indexOf(null)] = { upstream: u, state: 'ready' };
    }
  }
  if (missingBackends === 0 && slotsNeeded <= s.slotsPerBackend) return { drains };
  return {
    drains: [],
    grow: {
      pool: missingBackends ? Math.max(s.backends.length * 2, s.backends.length + missingBackends) : s.backends.length,
      slots: slotsNeeded > s.slotsPerBackend ? Math.max(s.slotsPerBackend * 2, slotsNeeded) : s.slotsPerBackend,
    },
  };
}
