import { messageOf, statusOf } from '../engine-api.js';
import { MANAGED_LABEL } from '../hardening.js';
import { freeSubnet } from '../subnets.js';
import type { Networks } from '../types.js';
import type { EngineClient } from './client.js';

/**
 * Project networks as user bridges. `subnetPool`: where they get /24 subnets once the engine's
 * default address pools are used up (stock dockerd fits about 30 user networks).
 */
export function dockerNetworks(engine: EngineClient, subnetPool: string): Networks {
  const { api } = engine;
  /** In-flight ensureNetwork calls by name: the engine may make two networks of one name when asked twice at once. */
  const making = new Map<string, Promise<void>>();

  async function findNetwork(name: string): Promise<string | null> {
    // The engine's name filter matches substrings; only an exact name counts.
    const list = await engine.call('list networks', (abortSignal) => api.listNetworks({ filters: { name: [name] }, abortSignal }));
    const same = list.filter((n) => n.Name === name).sort((a, b) => ((a.Created ?? '') < (b.Created ?? '') ? -1 : 1));
    // Two creators raced (another process, say) and the engine made both: a name that matches two
    // networks cannot be attached to, so the younger ones go (they were just made and are empty).
    for (const extra of same.slice(1)) {
      await engine.call('remove network', (abortSignal) => api.getNetwork(extra.Id).remove({ abortSignal }), [404]).catch(() => {});
    }
    return same[0]?.Id ?? null;
  }

  async function createNetwork(name: string, labels: Record<string, string>, subnet?: string): Promise<void> {
    await engine.call('create network', (abortSignal) =>
      api.createNetwork({
        Name: name,
        // A user bridge: embedded DNS for aliases, and the engine's inter-bridge isolation between projects.
        Driver: 'bridge',
        CheckDuplicate: true,
        Internal: false,
        Labels: { ...labels, [MANAGED_LABEL]: 'true' },
        ...(subnet ? { IPAM: { Driver: 'default', Config: [{ Subnet: subnet }] } } : {}),
        abortSignal,
      }),
    );
  }

  /** True when a create failed because a concurrent caller made the same network. */
  async function createdMeanwhile(err: unknown, name: string): Promise<boolean> {
    return statusOf(err) === 409 && (await findNetwork(name)) !== null;
  }

  async function makeNetwork(name: string, labels: Record<string, string>): Promise<void> {
    if (await findNetwork(name)) return;
    for (let attempt = 0; ; attempt++) {
      try {
        await createNetwork(name, labels);
        return;
      } catch (err) {
        if (await createdMeanwhile(err, name)) return;
        if (/non-overlapping IPv4 address pool/.test(messageOf(err))) break;
        // The engine's allocator can hand two concurrent creations the same default subnet ("Pool overlaps"): try again.
        if (attempt >= 2 || !/overlap/i.test(messageOf(err))) throw err;
      }
    }
    // Default pools exhausted: pick a free subnet ourselves; another creator may take it first, so retry.
    for (let attempt = 0; ; attempt++) {
      const networks = await engine.call('list networks', (abortSignal) => api.listNetworks({ abortSignal }));
      const used = networks.flatMap((n) => (n.IPAM?.Config ?? []).map((c) => c.Subnet ?? ''));
      const subnet = freeSubnet(subnetPool, used, 24, (n) => Math.floor(Math.random() * n));
      if (!subnet) throw new Error(`no free subnet left for network ${name} in ${subnetPool}`);
      try {
        await createNetwork(name, labels, subnet);
        return;
      } catch (err) {
        if (await createdMeanwhile(err, name)) return;
        if (attempt >= 9 || !/overlap/i.test(messageOf(err))) throw err;
      }
    }
  }

  return {
    ensureNetwork(name, labels) {
      let pending = making.get(name);
      if (!pending) {
        pending = makeNetwork(name, labels).finally(() => making.delete(name));
        making.set(name, pending);
      }
      return pending;
    },
    async removeNetwork(name) {
      const id = await findNetwork(name);
      if (!id) return;
      await engine.call('remove network', (abortSignal) => api.getNetwork(id).remove({ abortSignal }), [404]);
    },
  };
}
