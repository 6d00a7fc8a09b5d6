import type { ContainerSpec } from '../runtime/types.js';
import { LABEL } from '../runtime/labels.js';
import type { AppRow } from '../store/apps.js';
import type { ReleaseConfig, ReleaseRow } from '../store/releases.js';
import type { ContainerRow } from '../store/containers.js';
import type { SecretBox } from '../lib/crypto.js';
import { plainEnv } from './env.js';
import { WEB, projectNetwork } from './containers.js';
import { processCommand } from './processes.js';
import { engineMounts } from './volumes.js';

/**
 * What any container of a release runs with, replica or one-off command: the release's image,
 * config and env (secrets decrypted here, just before they go to the engine), its volumes, the
 * project's network and Berth's instance and project labels.
 */
export function releaseSpec(secrets: SecretBox, instanceId: string, app: AppRow, release: ReleaseRow, cfg: ReleaseConfig, name: string, labels: Record<string, string>): ContainerSpec {
  return {
    name,
    image: release.image,
    env: {
      ...plainEnv(secrets, cfg.env),
      PORT: String(cfg.port),
      BERTH_APP: app.slug,
      BERTH_RELEASE: `v${release.version}`,
    },
    labels: { [LABEL.instance]: instanceId, [LABEL.project]: app.project_id, ...labels },
    network: projectNetwork(app.project_id),
    // Apps in a project reach each other by app name through Docker's DNS.
    aliases: [app.name],
    memoryMb: cfg.memory_mb,
    cpu: cfg.cpu,
    mounts: engineMounts(instanceId, app.project_id, cfg.volumes),
  };
}

/** The engine container of one replica: a release's container with the replica's labels. */
export function containerSpec(secrets: SecretBox, instanceId: string, app: AppRow, release: ReleaseRow, cfg: ReleaseConfig, row: ContainerRow): ContainerSpec {
  const base = releaseSpec(secrets, instanceId, app, release, cfg, row.name, {
    [LABEL.app]: app.id,
    [LABEL.release]: release.id,
    [LABEL.version]: String(release.version),
    [LABEL.replica]: String(row.replica),
    [LABEL.gen]: String(row.gen),
    [LABEL.container]: row.id,
    [LABEL.process]: row.process_type,
  });
  const type = row.process_type;
  // Another app reaching this one by name means its web process: the other types get no alias.
  const spec: ContainerSpec =
    type === WEB
      ? base
      : { ...base, cmd: processCommand(cfg.processes, type), aliases: [], env: { ...base.env, BERTH_PROCESS_TYPE: type } };
  return cfg.placement?.constraints.length ? { ...spec, placement: cfg.placement } : spec;
}
