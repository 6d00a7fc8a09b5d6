import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../lib/atomic-file.js';

/**
 * buildah's storage, laid out per tenant. Each project has an image store of its own (its builds'
 * layer cache, its images); the stack images sit once in a shared store that every project's store
 * reads as an additional, read-only image store, so no build copies them. Nothing in one project's
 * store is visible to another's builds: that is what makes `FROM <another project's image>` fail.
 */
export class BuildahStore {
  constructor(readonly root: string) {}

  get stacks(): { graph: string; run: string } {
    return { graph: join(this.root, 'stacks'), run: join(RUN_ROOT, 'stacks') };
  }

  project(projectId: string): { graph: string; run: string } {
    if (!/^[A-Za-z0-9_-]+$/.test(projectId)) throw new Error(`invalid project id ${JSON.stringify(projectId)}`);
    return { graph: join(this.root, 'projects', projectId), run: join(RUN_ROOT, 'projects', projectId) };
  }

  get conf(): string {
    return join(this.root, 'conf');
  }

  file(name: 'containers.conf' | 'registries.conf' | 'policy-local.json' | 'stacks.json'): string {
    return join(name === 'stacks.json' ? this.root : this.conf, name);
  }

  /** The global options naming a store (and, for a project, the stack store under it). */
  args(store: { graph: string; run: string }, withStacks: boolean): string[] {
    return [
      '--root', store.graph, '--runroot', store.run, '--storage-driver', 'overlay',
      ...(withStacks ? ['--storage-opt', `overlay.imagestore=${this.stacks.graph}`] : []),
    ];
  }

  /**
   * buildah's configuration, Berth's own files (never /etc/containers, which a host may use for
   * other things): cgroupfs (RUN steps' cgroups go under the build's cgroup); no unqualified-search
   * registries (a short name resolves locally or fails: it never falls through to Docker Hub, so
   * `FROM berth/<other>:1` is a clear "did not resolve", not a registry probe); a signature policy
   * for builds that admits the registry transport only, and one for Berth's own copies to and from
   * the engine.
   */
  async writeConfig(): Promise<void> {
    await fs.mkdir(this.conf, { recursive: true, mode: 0o700 });
    const files: [Parameters<BuildahStore['file']>[0], string][] = [
      ['containers.conf', '[engine]\ncgroup_manager = "cgroupfs"\n'],
      ['registries.conf', 'unqualified-search-registries = []\nshort-name-mode = "enforcing"\n'],
      ['policy-local.json', JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }) + '\n'],
    ];
    for (const [name, text] of files) {
      const path = this.file(name);
      if ((await fs.readFile(path, 'utf8').catch(() => null)) === text) continue;
      await writeFileAtomic(path, text);
    }
  }

  /**
   * The signature policy of a project's builds: images from registries, and the layers of this
   * project's own store (buildah's layer cache hands a cached step on through containers-storage);
   * every other transport and every other store is rejected. Returns its path.
   */
  async buildPolicy(projectId: string): Promise<string> {
    const own = this.project(projectId);
    const accept = [{ type: 'insecureAcceptAnything' }];
    const policy = {
      default: [{ type: 'reject' }],
      // A storage image's policy scopes are `[driver@graphroot]` and `[graphroot]` (runroot and options left out).
      transports: { docker: { '': accept }, 'containers-storage': { [`[overlay@${own.graph}]`]: accept } },
    };
    const path = join(this.conf, `policy-${projectId}.json`);
    const text = JSON.stringify(policy) + '\n';
    if ((await fs.readFile(path, 'utf8').catch(() => null)) !== text) {
      await writeFileAtomic(path, text);
    }
    return path;
  }

  env(): NodeJS.ProcessEnv {
    return { ...process.env, CONTAINERS_CONF: this.file('containers.conf'), CONTAINERS_REGISTRIES_CONF: this.file('registries.conf') };
  }
}

/** Run state (locks, mount counts) belongs on a tmpfs: it must not outlive a reboot. */
const RUN_ROOT = '/run/berth-buildah';
