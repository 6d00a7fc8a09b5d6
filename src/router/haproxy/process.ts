import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { isAlive } from '../../lib/pids.js';
import { pathOf } from './config.js';
import { RuntimeApi } from './runtime.js';

/**
 * The HAProxy master process of one Berth data directory: started detached (own session, so it
 * outlives the control plane), in master-worker mode with a master CLI socket, from the config file
 * on disk. The master re-executes itself on `reload` and hands the listening sockets to the new
 * worker (expose-fd listeners), so a reload closes no connection.
 */
export class HaproxyProcess {
  readonly admin: RuntimeApi;
  readonly master: RuntimeApi;

  constructor(
    readonly dir: string,
    private readonly bin = 'haproxy',
  ) {
    const alive = () => this.livePid() !== undefined;
    this.admin = new RuntimeApi(pathOf(dir, 'admin'), undefined, alive);
    this.master = new RuntimeApi(pathOf(dir, 'master'), undefined, alive);
  }

  /** Starts the master unless ours is running; resolves once the worker answers on the runtime API. */
  async start(timeoutMs: number): Promise<{ pid: number; started: boolean }> {
    const deadline = Date.now() + timeoutMs;
    const running = this.livePid();
    if (running !== undefined) {
      if (await this.waitAnswer(deadline)) return { pid: running, started: false };
      throw new Error(`haproxy (pid ${running}) is running but ${this.admin.socketPath} does not answer`);
    }
    // Nothing of ours runs, so socket files left by a killed HAProxy are stale.
    rmSync(this.admin.socketPath, { force: true });
    rmSync(this.master.socketPath, { force: true });
    const log = openSync(pathOf(this.dir, 'log'), 'a');
    // A daemon, not a command: spawned here rather than through lib/exec (which waits for exit).
    const child = spawn(this.bin, ['-W', '-S', `${this.master.socketPath},mode,600`, '-f', pathOf(this.dir, 'config')], {
      cwd: this.dir,
      detached: true,
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    let exited: string | undefined;
    child.once('exit', (code, sig) => (exited = `exited with ${code ?? sig}`));
    child.once('error', (err) => (exited = err.message));
    child.unref();
    if (child.pid === undefined) throw new Error(`haproxy did not start: ${exited ?? 'no pid'}`);
    writeFileSync(pathOf(this.dir, 'pid'), `${child.pid}\n`);
    if (await this.waitAnswer(deadline, () => exited !== undefined)) return { pid: child.pid, started: true };
    throw new Error(`haproxy ${exited ?? 'did not answer in time'}: ${this.logTail()}`);
  }

  /**
   * Seamless reload through the master CLI: the master re-reads the config file, the new worker
   * takes over the listening sockets, the old one finishes its connections (up to hard-stop-after).
   * Resolves once the new worker answers on the runtime API.
   */
  async reload(timeoutMs = 15_000): Promise<void> {
    const before = await this.workerPid();
    await this.master.send('reload');
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const now = await this.workerPid().catch(() => undefined);
      if (now !== undefined && now !== before) return;
      await sleep(20);
    }
    throw new Error(`haproxy reload did not bring up a new worker: ${this.logTail()}`);
  }

  async workerPid(): Promise<number | undefined> {
    const m = /^Pid: (\d+)$/m.exec(await this.admin.send('show info'));
    return m ? Number(m[1]) : undefined;
  }

  /** Stops the master this data directory started (and with it its workers). */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const pid = this.livePid();
    if (pid !== undefined) {
      process.kill(pid, signal);
      const deadline = Date.now() + 10_000;
      while (isAlive(pid) && Date.now() < deadline) await sleep(50);
      if (isAlive(pid)) process.kill(pid, 'SIGKILL');
      while (isAlive(pid)) await sleep(20);
    }
    rmSync(pathOf(this.dir, 'pid'), { force: true });
  }

  /** The master's pid from our pid file, if it is alive and is an HAProxy (not a recycled pid). */
  livePid(): number | undefined {
    let pid: number;
    try {
      pid = Number(readFileSync(pathOf(this.dir, 'pid'), 'utf8').trim());
    } catch {
      return undefined;
    }
    return Number.isInteger(pid) && pid > 0 && isHaproxy(pid, pathOf(this.dir, 'config')) ? pid : undefined;
  }

  logTail(): string {
    try {
      return readFileSync(pathOf(this.dir, 'log'), 'utf8').trim().split('\n').slice(-5).join('\n');
    } catch {
      return '(no log)';
    }
  }

  private async waitAnswer(deadline: number, gaveUp: () => boolean = () => false): Promise<boolean> {
    while (Date.now() < deadline && !gaveUp()) {
      if (await this.admin.answers()) return true;
      await sleep(20);
    }
    return false;
  }
}

/**
 * An HAProxy process of this data directory that is alive: its program is haproxy and it runs our
 * config file (a worker runs its master's command line). A pid recycled by any other process, an
 * `less haproxy.log` or another data directory's HAProxy included, is not ours to signal or to trust.
 */
export function isHaproxy(pid: number, config: string): boolean {
  try {
    if (!isAlive(pid)) return false;
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const program = argv[0]!.slice(argv[0]!.lastIndexOf('/') + 1);
    return program === 'haproxy' && argv.some((a, i) => a === '-f' && argv[i + 1] === config);
  } catch {
    return false;
  }
}

export { isAlive };
