import { existsSync, promises as fs, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = '/sys/fs/cgroup';

/**
 * One build's cgroup: a pids and memory ceiling over every RUN step of the build. The builder
 * makes each step's own cgroup beneath it (`--cgroup-parent <path>/run`) and removes that after
 * the step, so the limits live here, on the parent, which the kernel applies to the whole subtree.
 * Works on cgroup v1 (one hierarchy per controller, as on this machine) and v2 (unified).
 */
export class BuildCgroup {
  /** The path the builder is given, relative to the cgroup root. */
  readonly path: string;
  private readonly dirs: string[];

  constructor(buildId: string) {
    if (!/^[A-Za-z0-9_-]+$/.test(buildId)) throw new Error(`invalid build id ${JSON.stringify(buildId)}`);
    this.path = `/berth-builds/${buildId}`;
    this.dirs = unified() ? [join(ROOT, this.path)] : ['pids', 'memory'].map((c) => join(ROOT, c, this.path));
  }

  /** Where each RUN step's cgroup goes. */
  get runParent(): string {
    return `${this.path}/run`;
  }

  async create(limits: { pids: number; memoryMb: number }): Promise<void> {
    const bytes = String(Math.floor(limits.memoryMb * 1024 * 1024));
    if (unified()) {
      // v2: the controllers must be enabled for the children of every level above.
      for (const dir of [ROOT, join(ROOT, 'berth-builds')]) {
        await fs.mkdir(dir, { recursive: true });
        await fs.writeFile(join(dir, 'cgroup.subtree_control'), '+pids +memory').catch(() => {});
      }
      const dir = this.dirs[0]!;
      await fs.mkdir(dir, { recursive: true });
      await fs.writeFile(join(dir, 'pids.max'), String(limits.pids));
      await fs.writeFile(join(dir, 'memory.max'), bytes);
      await fs.writeFile(join(dir, 'memory.swap.max'), '0').catch(() => {});
      return;
    }
    const [pids, memory] = this.dirs as [string, string];
    await fs.mkdir(pids, { recursive: true });
    await fs.writeFile(join(pids, 'pids.max'), String(limits.pids));
    await fs.mkdir(memory, { recursive: true });
    await fs.writeFile(join(memory, 'memory.limit_in_bytes'), bytes);
    // memsw exists only with swap accounting; without it there is no swap to limit.
    await fs.writeFile(join(memory, 'memory.memsw.limit_in_bytes'), bytes).catch(() => {});
  }

  /**
   * Moves a process (the builder itself, just spawned) into the build's cgroup, so everything it
   * starts is counted and a control plane that died mid-build can find and end all of it.
   */
  adopt(pid: number): void {
    for (const dir of this.dirs) writeFileSync(join(dir, 'cgroup.procs'), String(pid));
  }

  /** SIGKILLs every process left in the build's subtree (a canceled or timed-out step's), then removes it. */
  async destroy(): Promise<void> {
    for (let round = 0; round < 20; round++) {
      const pids = new Set<number>();
      for (const dir of this.dirs) for (const p of await procs(dir)) pids.add(p);
      if (!pids.size) break;
      for (const p of pids) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const dir of this.dirs) await removeTree(dir);
  }
}

function unified(): boolean {
  return existsSync(join(ROOT, 'cgroup.controllers'));
}

async function procs(dir: string): Promise<number[]> {
  const out: number[] = [];
  const text = await fs.readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
  for (const l of text.split('\n')) if (/^\d+$/.test(l)) out.push(Number(l));
  for (const e of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (e.isDirectory()) out.push(...(await procs(join(dir, e.name))));
  }
  return out;
}

/** cgroup directories are removed with rmdir, children first (their control files go with them). */
async function removeTree(dir: string): Promise<void> {
  for (const e of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (e.isDirectory()) await removeTree(join(dir, e.name));
  }
  await fs.rmdir(dir).catch(() => {});
}
