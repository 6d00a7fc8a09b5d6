import type { ContainerSpec, HelperSpec } from './types.js';
import { LABEL, containerLabels } from './labels.js';
import { NOBODY } from './image-user.js';

export { NOBODY };
export const DEFAULT_PIDS_LIMIT = 256;
export const MANAGED_LABEL = LABEL.managed;

/** An engine mount of a named volume. Type volume only: a host path can never be mounted. NoCopy: the image's files at the path are not copied in. */
function volumeMount(m: { volume: string; path: string }, readOnly: boolean) {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(m.volume)) throw new Error(`volume name ${JSON.stringify(m.volume)} is not a named volume`);
  if (!m.path.startsWith('/')) throw new Error(`mount path ${JSON.stringify(m.path)} is not absolute`);
  return { Type: 'volume', Source: m.volume, Target: m.path, ReadOnly: readOnly, VolumeOptions: { NoCopy: true } };
}

/**
 * True when a Docker User setting means uid 0 by its spelling alone ("", "root", "0", "0000",
 * "0:0", "root:staff", ...). A name is only known from the image's /etc/passwd: callers pass the
 * numeric user that runtime/image-user.ts resolved, and this is the last guard.
 */
export function isRootUser(user: string): boolean {
  const name = user.trim().split(':')[0] ?? '';
  return name === '' || name === 'root' || /^0+$/.test(name);
}

/**
 * The Engine API create body for a spec. Every protection here is applied whatever the spec says:
 * the spec can only choose limits, never loosen isolation.
 */
export function hardenedCreateOptions(spec: ContainerSpec, imageUser: string, imageLabels: Record<string, string> = {}): Record<string, unknown> {
  if (!Number.isFinite(spec.memoryMb) || spec.memoryMb < 6) {
    // Docker's floor is 6 MB; refusing beats silently running without a limit.
    throw new Error(`memoryMb must be at least 6, got ${spec.memoryMb}`);
  }
  if (!Number.isFinite(spec.cpu) || spec.cpu < 0) throw new Error(`cpu must be >= 0, got ${spec.cpu}`);
  const pids = spec.pidsLimit ?? DEFAULT_PIDS_LIMIT;
  if (!Number.isInteger(pids) || pids < 1) throw new Error(`pidsLimit must be a positive integer, got ${pids}`);
  const memory = Math.floor(spec.memoryMb * 1024 * 1024);
  const mounts = (spec.mounts ?? []).map((m) => volumeMount(m, false));

  return {
    name: spec.name,
    Image: spec.image,
    ...(spec.cmd ? { Cmd: spec.cmd } : {}),
    Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    Labels: containerLabels(spec.labels, imageLabels),
    User: isRootUser(imageUser) ? NOBODY : imageUser,
    Tty: !!spec.tty,
    OpenStdin: !!(spec.tty || spec.stdin),
    // The command's stdin closes when its terminal (or pipe) is detached: a shell left alone ends.
    StdinOnce: !!(spec.tty || spec.stdin),
    HostConfig: {
      CapDrop: ['ALL'],
      CapAdd: [],
      SecurityOpt: ['no-new-privileges:true'],
      Privileged: false,
      ReadonlyRootfs: false,
      Memory: memory,
      // Equal to Memory: no swap, so the limit is real.
      MemorySwap: memory,
      PidsLimit: pids,
      ...(spec.cpu > 0 ? { NanoCpus: Math.round(spec.cpu * 1e9) } : {}),
      PortBindings: {},
      PublishAllPorts: false,
      Binds: [],
      Mounts: mounts,
      Devices: [],
      VolumesFrom: [],
      IpcMode: 'private',
      // Reaps zombies left by apps that fork without waiting.
      Init: true,
      // The engine backs off restarts exponentially (100 ms doubling up to a minute).
      RestartPolicy: { Name: spec.restart ?? 'unless-stopped', MaximumRetryCount: 0 },
      LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
      NetworkMode: spec.network,
    },
    NetworkingConfig: {
      EndpointsConfig: { [spec.network]: { Aliases: spec.aliases } },
    },
  };
}

/**
 * The Engine API create body of a root helper: root only for file ownership, with just the file
 * capabilities it names, no network, no new privileges, small limits, named volumes only.
 */
export function helperCreateOptions(spec: HelperSpec, image: string): Record<string, unknown> {
  return {
    ...(spec.name ? { name: spec.name } : {}),
    Image: image,
    Cmd: spec.cmd,
    User: '0:0',
    Labels: { ...spec.labels, [MANAGED_LABEL]: 'true' },
    NetworkDisabled: true,
    HostConfig: {
      CapDrop: ['ALL'],
      CapAdd: spec.capabilities,
      SecurityOpt: ['no-new-privileges:true'],
      Privileged: false,
      NetworkMode: 'none',
      Memory: 256 * 1024 * 1024,
      MemorySwap: 256 * 1024 * 1024,
      PidsLimit: 32,
      Binds: [],
      Devices: [],
      Init: true,
      RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
      Mounts: spec.mounts.map((m) => volumeMount(m, m.readOnly)),
    },
  };
}
