import { run } from '../lib/exec.js';
import { BUILD_BRIDGE, BUILD_NETWORK } from './fence.js';

const T = 30_000;

/**
 * What the builder needs of the Docker Engine, through its CLI (argument arrays, timeouts): the
 * build network, each build's network anchor, image ids. The images themselves travel through
 * buildah's docker-daemon transport.
 */
export class BuildEngine {
  constructor(private readonly opts: { dockerHost?: string; instanceId: string; anchorImage: string }) {}

  private docker(args: string[], signal?: AbortSignal, timeoutMs = T) {
    const env = { ...process.env, ...(this.opts.dockerHost ? { DOCKER_HOST: this.opts.dockerHost } : {}) };
    return run('docker', args, { timeoutMs, signal, env });
  }

  private async dockerOk(args: string[], signal?: AbortSignal): Promise<string> {
    const r = await this.docker(args, signal);
    if (r.code !== 0) throw new Error(`docker ${args[0]} ${args[1] ?? ''} failed: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' ')}`);
    return r.stdout.trim();
  }

  /**
   * One network for every build on this engine (shared by Berth instances; machine-wide like the
   * firewall that fences it), its bridge named so the rules can match it, inter-container traffic
   * off (two builds on it never reach each other). Two creators at once: the engine refuses the
   * second bridge of the same name, and both then find the first.
   */
  async ensureNetwork(signal?: AbortSignal): Promise<void> {
    const inspect = () => this.docker(['network', 'inspect', '-f', '{{index .Options "com.docker.network.bridge.name"}} {{index .Options "com.docker.network.bridge.enable_icc"}}', BUILD_NETWORK], signal);
    let got = await inspect();
    if (got.code !== 0) {
      await this.docker(
        ['network', 'create', '--driver', 'bridge', '--label', 'berth.role=builds', '--opt', `com.docker.network.bridge.name=${BUILD_BRIDGE}`, '--opt', 'com.docker.network.bridge.enable_icc=false', BUILD_NETWORK],
        signal,
      );
      got = await inspect();
    }
    if (got.code !== 0) throw new Error(`the build network ${BUILD_NETWORK} could not be made: ${got.stderr.trim()}`);
    if (got.stdout.trim() !== `${BUILD_BRIDGE} false`) {
      throw new Error(`the engine network ${BUILD_NETWORK} is not Berth's build network (bridge and icc: ${got.stdout.trim()}); remove it and Berth makes it again`);
    }
  }

  /**
   * A do-nothing container on the build network whose network namespace the build runs in (the
   * builder, its pulls and ADD downloads, and every RUN step): no capabilities, read-only, tiny.
   * Returns the namespace path.
   */
  async startAnchor(buildId: string, signal?: AbortSignal): Promise<string> {
    const name = anchorName(buildId);
    await this.docker(['rm', '-f', name]);
    await this.dockerOk(
      [
        'run', '-d', '--name', name, '--network', BUILD_NETWORK,
        '--label', 'berth.role=build-anchor', '--label', `berth.instance=${this.opts.instanceId}`, '--label', `berth.build=${buildId}`,
        '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', '--read-only', '--pids-limit', '8', '--memory', '32m',
        '--entrypoint', 'sleep', this.opts.anchorImage, '86400',
      ],
      signal,
    );
    const pid = await this.dockerOk(['inspect', '-f', '{{.State.Pid}}', name], signal);
    if (!/^[1-9][0-9]*$/.test(pid)) throw new Error(`the build's network anchor is not running (pid ${pid})`);
    return `/proc/${pid}/ns/net`;
  }

  async removeAnchor(buildId: string): Promise<void> {
    await this.docker(['rm', '-f', anchorName(buildId)]);
  }

  /** Build ids of the anchors this instance has (after a crash: the builds it left); other instances' builds are theirs. */
  async anchoredBuilds(): Promise<string[]> {
    const out = await this.dockerOk(['ps', '-a', '--filter', 'label=berth.role=build-anchor', '--filter', `label=berth.instance=${this.opts.instanceId}`, '--format', '{{.Label "berth.build"}}']);
    return out.split('\n').filter((id) => /^[A-Za-z0-9_-]+$/.test(id));
  }

  /**
   * Takes a built image from the hand-over registry (`ref` names it by digest: another build's push
   * to the same repository cannot swap it) and tags it `tag`; the engine fetches only the layers it
   * lacks. The registry's name for it is dropped again, the image stays under `tag`.
   */
  async pullAs(ref: string, imageId: string, tag: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const pull = await this.docker(['pull', '--quiet', ref], signal, timeoutMs);
    if (pull.aborted) throw new Error('build canceled');
    if (pull.timedOut) throw new Error(`handing the image to the engine timed out after ${timeoutMs} ms`);
    if (pull.code !== 0) throw new Error(`the engine could not take the built image: ${(pull.stderr || pull.stdout).trim().split('\n').slice(-2).join(' ')}`);
    try {
      const id = await this.imageId(ref, signal);
      if (id !== `sha256:${imageId}`) throw new Error(`the engine's copy of the built image has id ${id}, not sha256:${imageId}`);
      await this.dockerOk(['tag', id, tag], signal);
    } finally {
      await this.docker(['rmi', ref]);
    }
  }

  /** The engine's id of an image, or null when it has none by that name. */
  async imageId(ref: string, signal?: AbortSignal): Promise<string | null> {
    const r = await this.docker(['image', 'inspect', '-f', '{{.Id}}', ref], signal);
    return r.code === 0 ? r.stdout.trim() : null;
  }
}

export const anchorName = (buildId: string) => `berth-build-${buildId}`;

