import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { run, type RunResult } from '../lib/exec.js';
import { BuildCaches, buildCachesDir } from './build-cache.js';
import { BuildCgroup } from './cgroup.js';
import { checkDockerfile, DockerfileRefused } from './dockerfile-check.js';
import { BuildEngine } from './engine.js';
import { ensureFence } from './fence.js';
import { handoverRepository, HandoverRegistry } from './handover.js';
import { BuildahStore } from './store.js';
import { ImageBuildFailed, type ImageBuilder, type ImageBuildRequest } from './types.js';
import { writeFileAtomic } from '../lib/atomic-file.js';

/**
 * What a RUN step keeps of root's powers: file ownership and modes, and switching users (package
 * installs drop to their own users, useradd, chown). Not NET_RAW, MKNOD, SYS_CHROOT, SETPCAP,
 * SETFCAP, NET_BIND_SERVICE or AUDIT_WRITE of the engine's default set, and nothing beyond it.
 */
export const RUN_CAPABILITIES = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID'] as const;

export interface BuildahOptions {
  storeDir: string;
  dockerHost?: string;
  instanceId: string;
  /** The images builds start from without a registry (the stack images, the runtime image), cached in the stack store. */
  baseImages: string[];
  /** The image of each build's network anchor (Berth's base image). */
  anchorImage: string;
  /** This instance's hand-over registry's files (handover.ts): under the data directory. */
  handoverDir: string;
  /** A project's download caches over this are dropped (build-cache.ts). */
  cacheMaxBytes: number;
}

/**
 * Builds with buildah (Debian's package), one build = one `buildah bud`:
 * - in the project's own image store, with the stack images as a read-only additional store: the
 *   engine's images (every tenant's) are not there, so a FROM or COPY --from of another project's
 *   image by any name, tag, id or digest does not resolve; transports that would reach the engine
 *   or host files are refused before (dockerfile-check.ts) and by the signature policy;
 * - inside the network namespace of a build anchor on the fenced build network (fence.ts): the
 *   builder's own pulls and ADD downloads as well as every RUN step reach the internet and the
 *   resolver, never the host, private ranges or link-local addresses;
 * - RUN steps in their own namespaces (OCI isolation, runc), with RUN_CAPABILITIES only, under
 *   the build's cgroup (pids and memory ceilings), within the build's time.
 * - with TMPDIR in the project's own cache directory (build-cache.ts): its `RUN --mount=type=cache`
 *   directories (the generated steps' download caches) are that project's and no other's;
 * Then `buildah push` hands the image to the engine through a loopback registry (handover.ts):
 * only the layers the engine lacks travel.
 */
export class BuildahBuilder implements ImageBuilder {
  readonly cacheMounts = true;
  private readonly store: BuildahStore;
  private readonly caches: BuildCaches;
  private readonly engine: BuildEngine;
  private readonly handover: HandoverRegistry;
  private stacksLock: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: BuildahOptions) {
    this.store = new BuildahStore(opts.storeDir);
    this.engine = new BuildEngine({ dockerHost: opts.dockerHost, instanceId: opts.instanceId, anchorImage: opts.anchorImage });
    this.handover = new HandoverRegistry(opts.handoverDir);
    // Per instance: another Berth on this machine (its own database, its own projects) shares the store, never a collection.
    this.caches = new BuildCaches(buildCachesDir(opts.storeDir, opts.instanceId), opts.cacheMaxBytes);
  }

  async collect(liveProjects: string[], readAt: number): Promise<void> {
    await this.caches.collect(liveProjects, readAt);
  }

  /**
   * After a crash: this instance's builds that were running have an anchor still; their cgroups
   * hold the orphaned buildah (spawned in its own process group, it outlived the control plane)
   * and its steps. Both go.
   */
  async sweep(): Promise<void> {
    for (const buildId of await this.engine.anchoredBuilds()) {
      await new BuildCgroup(buildId).destroy();
      await this.engine.removeAnchor(buildId);
    }
    await this.handover.sweep();
  }

  async build(req: ImageBuildRequest): Promise<{ imageId: string }> {
    try {
      return await this.caches.use(req.projectId, (tmpdir) => this.buildIn(req, tmpdir));
    } finally {
      // Bounded at each build's end (when no other build of the project runs): never fails the build.
      await this.caches.trim(req.projectId).then(
        (dropped) => dropped && req.onLine?.('-----> The project\'s download caches outgrew BERTH_BUILD_CACHE_MB and were dropped'),
        () => {},
      );
    }
  }

  private async buildIn(req: ImageBuildRequest, tmpdir: string): Promise<{ imageId: string }> {
    const env = { ...this.store.env(), TMPDIR: tmpdir };
    const started = Date.now();
    const left = () => Math.max(1, req.timeoutMs - (Date.now() - started));
    const say = (text: string) => req.onLine?.(`-----> ${text}`);
    try {
      checkDockerfile(req.dockerfileText, { cacheMounts: true });
    } catch (err) {
      if (err instanceof DockerfileRefused) throw new ImageBuildFailed(err.message);
      throw err;
    }

    // Every build checks its walls: cheap, and they come back after an engine or firewall restart.
    await this.store.writeConfig();
    await this.engine.ensureNetwork(req.signal);
    await ensureFence(req.signal);
    await this.cacheStacks(stacksNamed(req.dockerfileText, this.opts.baseImages), say, req.signal);

    const project = this.store.project(req.projectId);
    await fs.mkdir(project.graph, { recursive: true, mode: 0o700 });
    const cgroup = new BuildCgroup(req.buildId);
    const iidFile = join(this.store.root, 'run', `${req.buildId}.iid`);
    const digestFile = join(this.store.root, 'run', `${req.buildId}.digest`);
    await fs.mkdir(join(this.store.root, 'run'), { recursive: true, mode: 0o700 });
    try {
      await cgroup.create({ pids: req.pidsLimit, memoryMb: req.memoryMb });
      const netns = await this.engine.startAnchor(req.buildId, req.signal);
      const labels = Object.entries(req.labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
      const memory = `${Math.floor(req.memoryMb)}m`;
      const lines: string[] = [];
      const bud = await run(
        'nsenter',
        [
          `--net=${netns}`, '--',
          'buildah', ...this.store.args(project, true),
          'bud',
          '--signature-policy', await this.store.buildPolicy(req.projectId),
          '--isolation', 'oci',
          // "host" is the namespace nsenter put buildah in: the anchor's, on the fenced network.
          '--network', 'host',
          '--cgroup-parent', cgroup.runParent,
          '--cap-drop', 'ALL', '--cap-add', RUN_CAPABILITIES.join(','),
          '--memory', memory, '--memory-swap', memory,
          '--layers', '--rm', '--force-rm',
          '--format', 'docker',
          '--iidfile', iidFile,
          ...labels,
          '-f', join(req.contextDir, req.dockerfile),
          '-t', req.tag,
          req.contextDir,
        ],
        {
          timeoutMs: left(),
          signal: req.signal,
          // buildah's cache mounts and temporary files: the project's own directory (build-cache.ts).
          env,
          maxOutputBytes: 256 * 1024,
          // Before buildah has started anything: its runc, every RUN step and buildah itself are then in the build's cgroup.
          onSpawn: (pid) => cgroup.adopt(pid),
          onLine: (line) => {
            lines.push(line);
            if (lines.length > 50) lines.shift();
            // buildah names its own store's copy localhost/<tag>; the user's image is <tag> on the engine.
            req.onLine?.(line === `Successfully tagged localhost/${req.tag}` ? `Successfully tagged ${req.tag}` : line);
          },
        },
      );
      this.throwUnlessOk(bud, req, lines);
      const imageId = (await fs.readFile(iidFile, 'utf8')).trim().replace(/^sha256:/, '');
      say('Handing the image to the engine');
      await this.handover.use(async (host) => {
        // One tag per project: the registry keeps each project's newest image (and so the stack layers) and collects the rest.
        const repo = `${host}/${handoverRepository(req.projectId)}`;
        const push = await run(
          'buildah',
          [
            ...this.store.args(project, true), 'push', '--signature-policy', this.store.file('policy-local.json'),
            '--tls-verify=false', '--digestfile', digestFile, imageId, `docker://${repo}:last`,
          ],
          { timeoutMs: left(), signal: req.signal, env },
        );
        this.throwUnlessOk(push, req, push.stderr.split('\n'));
        const digest = (await fs.readFile(digestFile, 'utf8')).trim();
        if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw new Error(`buildah push wrote no manifest digest (${JSON.stringify(digest.slice(0, 80))})`);
        await this.engine.pullAs(`${repo}@${digest}`, imageId, req.tag, left(), req.signal);
      });
      return { imageId: `sha256:${imageId}` };
    } finally {
      await cgroup.destroy();
      await this.engine.removeAnchor(req.buildId);
      await fs.rm(iidFile, { force: true });
      await fs.rm(digestFile, { force: true });
    }
  }

  private throwUnlessOk(r: RunResult, req: ImageBuildRequest, lines: string[]): void {
    if (r.code === 0) return;
    if (r.aborted) throw new Error('build canceled');
    if (r.timedOut) throw new Error(`build timed out after ${req.timeoutMs} ms`);
    throw new ImageBuildFailed(explain(lines));
  }

  /**
   * Copies each base image the engine has into the stack store, once per engine image id: a
   * rebuilt stack image (new id) is copied again, an unchanged one never. Serialized in this
   * process; buildah's storage locks cover other processes. Only the images the build names are
   * copied: a server with a dozen language lines does not copy them all for its first build.
   */
  private cacheStacks(images: string[], say: (text: string) => void, signal?: AbortSignal): Promise<void> {
    const next = this.stacksLock.then(async () => {
      const markerPath = this.store.file('stacks.json');
      const marker = JSON.parse(await fs.readFile(markerPath, 'utf8').catch(() => '{}')) as Record<string, string>;
      for (const image of images) {
        const id = await this.engine.imageId(image, signal);
        if (!id || marker[image] === id) continue;
        say(`Caching the stack image ${image} in the build store (once per image version)`);
        await fs.mkdir(this.store.stacks.graph, { recursive: true, mode: 0o700 });
        const pull = await run(
          'buildah',
          [...this.store.args(this.store.stacks, false), 'pull', '--quiet', '--signature-policy', this.store.file('policy-local.json'), `docker-daemon:${image}`],
          { timeoutMs: 600_000, signal, env: this.store.env() },
        );
        if (pull.code !== 0) throw new Error(`caching the stack image ${image} failed: ${pull.stderr.trim().split('\n').slice(-2).join(' ')}`);
        marker[image] = id;
        await writeFileAtomic(markerPath, JSON.stringify(marker, null, 2), 0o644);
      }
    });
    this.stacksLock = next.catch(() => {});
    return next;
  }
}

/**
 * The stack images a Dockerfile names (in a FROM, a COPY --from or a mount's from=). A reference
 * built from an ARG cannot be read here, so then every stack image is cached.
 */
export function stacksNamed(dockerfile: string, stacks: string[]): string[] {
  const all = [...new Set(stacks)];
  const refs = [...dockerfile.matchAll(/^\s*FROM\s+(?:--\S+\s+)*(\S+)|\bfrom=(\S+)/gim)].map((m) => (m[1] ?? m[2])!);
  if (refs.some((r) => r.includes('$'))) return all;
  const words = new Set(dockerfile.split(/[^A-Za-z0-9._\-/:@]+/));
  return all.filter((image) => words.has(image));
}

/** The build's last error, said so a user knows what to change. */
export function explain(lines: string[]): string {
  const error = [...lines].reverse().find((l) => /^Error: /.test(l))?.replace(/^Error: /, '') ?? lines.filter(Boolean).slice(-1)[0] ?? 'the builder failed';
  const short = /short-name "([^"]+)" did not resolve/.exec(error) ?? /^creating build container: (\S+): image not known/.exec(error);
  if (short) {
    return `image ${short[1]} is not available to this build: builds see only the stack images, this project's own images and images pulled from a registry by their full name`;
  }
  const copy = /(COPY|ADD) --from=(\S+): no stage or image found with that name/.exec(error);
  if (copy) return `${copy[1]} --from=${copy[2]}: no stage of this Dockerfile and no image available to this build has that name`;
  if (/rejected by policy/.test(error)) return `${error} (builds may use images from registries only)`;
  const step = /^building at STEP "(.*)": while running runtime: exit status (\d+)$/s.exec(error);
  // Said by bash ("Cannot fork") or by the runtime itself when the step's processes hit the cap.
  const forkLimit = lines.some((l) => /cannot fork|fork\/exec .*resource temporarily unavailable/i.test(l));
  const why = forkLimit ? ': the build reached its limit on processes (BERTH_BUILD_PIDS)' : '';
  if (step) return `step "${step[1]!.slice(0, 200)}" returned a non-zero code: ${step[2]}${why}`;
  return error.replace(/^building at STEP "(.{0,200}).*?": /s, 'step "$1": ');
}
