import { mapEntries, pathOf, type MapName } from './config.js';
import { isDrain, isReady, readMap, readServers } from './observed.js';
import type { RuntimeApi } from './runtime.js';
import type { RouterState } from './state.js';
import { upstream } from './validate.js';

/**
 * Makes the running HAProxy equal to `s`, reading what it has first (so it also repairs a runtime
 * left behind by a crash), in the order that drops nothing: replicas in, hosts in, hosts out,
 * replicas out. Every value in these lines was validated when it entered the state.
 */
export async function pushState(api: RuntimeApi, dir: string, s: RouterState): Promise<void> {
  const servers = await readServers(api);
  const want = Object.fromEntries(Object.entries(mapEntries(s)).map(([n, e]) => [n, new Map(e)])) as Record<MapName, Map<string, string>>;
  const syncMap = async (n: MapName, phase: 'in' | 'out') => {
    const file = pathOf(dir, n);
    const have = await readMap(api, file);
    if (phase === 'out') {
      for (const k of have.keys()) if (!want[n].has(k)) await api.ok(`del map ${file} ${k}`);
      return;
    }
    for (const [k, val] of want[n]) {
      if (!have.has(k)) await api.ok(`add map ${file} ${k} ${val}`);
      else if (have.get(k) !== val) await api.ok(`set map ${file} ${k} ${val}`);
    }
  };

  // 1. Replicas in: a host never points at a backend before its servers are ready.
  for (const b of s.backends) {
    for (const [i, slot] of b.slots.entries()) {
      if (slot?.state !== 'ready') continue;
      const id = `${b.name}/s${i + 1}`;
      const now = servers.get(id);
      const { addr, port } = upstream(slot.upstream, 'upstream');
      const moved = !now || now.addr !== addr || now.port !== port;
      if (moved) await api.ok(`set server ${id} addr ${addr} port ${port}`, /changed|no need/);
      if (moved || !isReady(now)) await api.ok(`set server ${id} state ready`);
    }
  }
  for (const n of ['apps', 'health', 'verify', 'acme', 'hosts'] as const) await syncMap(n, 'in');
  // 2. Hosts out, then replicas out: drain keeps what they carry; maint once drained.
  for (const n of ['hosts', 'verify', 'acme'] as const) await syncMap(n, 'out');
  for (const b of s.backends) {
    for (const [i, slot] of b.slots.entries()) {
      const id = `${b.name}/s${i + 1}`;
      const now = servers.get(id);
      if (!now) continue;
      if (slot?.state === 'drain' && isReady(now)) await api.ok(`set server ${id} state drain`);
      if (!slot && (isReady(now) || isDrain(now))) {
        await api.ok(`set server ${id} state maint`);
        await api.ok(`shutdown sessions server ${id}`);
      }
    }
  }
  for (const n of ['apps', 'health'] as const) await syncMap(n, 'out');
}
