import { MANAGED_LABEL } from '../hardening.js';
import { LABEL } from '../labels.js';
import type { Volumes } from '../types.js';
import { labelFilters, type EngineClient } from './client.js';
import { removeContainer, startContainer, waitContainer } from './containers.js';
import { createHelperContainer } from './helpers.js';

/** Named local volumes, each made writable by any user once per process (`helperImage` runs the chmod). */
export function dockerVolumes(engine: EngineClient, helperImage: string): Volumes {
  const { api } = engine;
  /** Volumes made writable by this process: the helper runs once per volume per start (chmod is idempotent). */
  const prepared = new Map<string, Promise<void>>();

  /**
   * Makes the volume if it is missing, then opens its root to every user (0777): apps run as
   * whichever non-root user their image names, so the owner cannot be known in advance. The helper
   * is root only to chmod its own directory: no capabilities, no network, removed at once.
   */
  async function prepareVolume(name: string, labels: Record<string, string>): Promise<void> {
    const exists = await engine.call('inspect volume', (abortSignal) => api.getVolume(name).inspect({ abortSignal }), [404]);
    if (!exists) {
      await engine.call('create volume', (abortSignal) =>
        api.createVolume({ Name: name, Driver: 'local', Labels: { ...labels, [MANAGED_LABEL]: 'true' }, abortSignal }),
      );
    }
    const helper = await createHelperContainer(
      engine,
      {
        cmd: ['chmod', '0777', '/volume'],
        // Only the instance: the volume's other labels (its app, its add-on) would make it pass for their containers.
        labels: { ...(labels[LABEL.instance] ? { [LABEL.instance]: labels[LABEL.instance] } : {}), [LABEL.volumeHelper]: name },
        mounts: [{ volume: name, path: '/volume', labels, readOnly: false }],
        capabilities: [],
      },
      helperImage,
    );
    try {
      await startContainer(engine, helper);
      const code = await waitContainer(engine, helper, AbortSignal.timeout(engine.callTimeoutMs));
      if (code !== 0) throw new Error(`could not make volume ${name} writable (chmod exited ${code})`);
    } finally {
      await removeContainer(engine, helper);
    }
  }

  return {
    ensureVolume(name, labels) {
      let p = prepared.get(name);
      if (!p) {
        p = prepareVolume(name, labels);
        prepared.set(name, p);
        p.catch(() => prepared.delete(name));
      }
      return p;
    },
    async volumeUsers(volume, except) {
      const res = await engine.call('list containers', (abortSignal) => api.listContainers({ all: false, filters: { volume: [volume] }, abortSignal }));
      const excepted = (labels: Record<string, string> | null | undefined) => !!except && Object.entries(except).every(([k, v]) => labels?.[k] === v);
      return res.filter((c) => !excepted(c.Labels)).map((c) => (c.Names?.[0] ?? c.Id).replace(/^\//, ''));
    },
    async listVolumes(labels) {
      const res = await engine.call('list volumes', (abortSignal) => api.listVolumes({ filters: { label: labelFilters(labels) }, abortSignal }));
      return (res.Volumes ?? []).map((v) => v.Name);
    },
    async removeVolume(name) {
      try {
        await engine.call('remove volume', (abortSignal) => api.getVolume(name).remove({ abortSignal }), [404]);
        prepared.delete(name);
        return true;
      } catch (err) {
        // 409: a container (running or not) still uses it.
        if ((err as { statusCode?: number }).statusCode === 409) return false;
        throw err;
      }
    },
  };
}
