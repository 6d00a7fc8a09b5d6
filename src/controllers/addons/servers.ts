import type { ControllerDeps } from '../deps.js';
import { LABEL } from '../../runtime/labels.js';
import { ContainerStuck, type ContainerInfo } from '../../runtime/types.js';
import type { AddonRow } from '../../store/addons.js';
import { updateAddon } from '../../store/addons.js';
import { networkLabels, projectNetwork } from '../../domain/containers.js';
import { ADDON_LABEL, ADDON_TYPES, addonSpec } from '../../domain/addons.js';
import { tell } from '../tell.js';

/**
 * Makes sure the add-on's server container exists and runs (the engine restarts it when it dies;
 * one stopped behind Berth's back is started again), and records when it first answers.
 */
export async function ensureAddon(d: ControllerDeps, a: AddonRow): Promise<void> {
  await d.networks.ensureNetwork(projectNetwork(a.project_id), networkLabels(d.instanceId, a.project_id));
  const [c] = await d.runs.listContainers({ [LABEL.instance]: d.instanceId, [ADDON_LABEL]: a.id });
  let info: ContainerInfo | undefined = c;
  if (c && (c.state === 'exited' || c.state === 'created')) {
    try {
      await d.runs.startContainer(c.id);
      info = (await d.runs.inspectContainer(c.id)) ?? undefined;
    } catch (err) {
      if (!(err instanceof ContainerStuck)) throw err;
      // It will never start again; the data is in the add-on's volume, so a new container serves it.
      d.log.warn({ err, addon: a.id }, 'add-on container replaced: the engine cannot start it again');
      await d.runs.removeContainer(c.id);
      info = undefined;
    }
  }
  if (!info) {
    const id = await d.runs.createContainer(addonSpec(d.secrets, d.instanceId, a));
    await d.runs.startContainer(id);
    info = (await d.runs.inspectContainer(id)) ?? undefined;
  }
  if (a.status === 'running') return;
  const address = info?.addresses[projectNetwork(a.project_id)];
  if (address && (await d.reachable(address, ADDON_TYPES[a.type].port))) {
    await updateAddon(d.db, a.id, { status: 'running', message: null });
    d.log.info({ addon: a.id }, 'add-on is up');
    await tell(d, { actor: { system: 'addons' }, project_id: a.project_id, kind: 'addon.running', message: `add-on ${a.name} is up`, data: { addon: a.id } });
  }
}

/** Containers and volumes (data, archive) of deleted add-ons go (their rows are gone). */
export async function removeDeleted(d: ControllerDeps, known: Set<string>): Promise<void> {
  for (const c of await d.runs.listContainers({ [LABEL.instance]: d.instanceId })) {
    const id = c.labels[ADDON_LABEL];
    if (!id || known.has(id)) continue;
    await d.runs.stopContainer(c.id, 10);
    await d.runs.removeContainer(c.id);
  }
  for (const name of await d.volumes.listVolumes({ [LABEL.instance]: d.instanceId })) {
    const m = /^berth-(addon-[a-z0-9]+)-(?:data|archive)$/.exec(name);
    if (m && !known.has(m[1]!.replace('-', '_'))) await d.volumes.removeVolume(name);
  }
}

