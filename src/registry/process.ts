import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { argvOf, isAlive } from '../lib/pids.js';
import type { RegistryFiles } from './files.js';

export type RegistryMode = 'read-write' | 'readonly';

/** Rotated away at start past this size (the log holds warnings and errors only). */
const MAX_LOG_BYTES = 10 * 1024 * 1024;

/**
 * The docker-registry process of one data directory, like the router's HAProxy: started detached
 * (its own session, so it outlives the control plane and nodes can pull while Berth restarts),
 * found again through its pid file by the next control plane.
 */
export class RegistryProcess {
  constructor(
    private readonly files: RegistryFiles,
    private readonly bin: string,
  ) {}

  /** Ours and alive: the pid file names a live docker-registry serving one of our config files. */
  running(): { pid: number; mode: RegistryMode } | null {
    let pid: number;
    try {
      pid = Number(readFileSync(this.files.pid, 'utf8').trim());
    } catch {
      return null;
    }
    if (!Number.isInteger(pid) || pid <= 0) return null;
    const argv = argvOf(pid);
    if (!argv.includes('serve')) return null;
    if (argv.includes(this.files.config)) return { pid, mode: 'read-write' };
    if (argv.includes(this.files.readonlyConfig)) return { pid, mode: 'readonly' };
    return null;
  }

  /** Starts it in this mode; resolves once `ready` says it answers, rejects with its log when it exits or never does. */
  async start(mode: RegistryMode, ready: () => Promise<boolean>, timeoutMs: number): Promise<number> {
    this.rotateLog();
    const log = openSync(this.files.log, 'a');
    const config = mode === 'readonly' ? this.files.readonlyConfig : this.files.config;
    // A daemon, not a command: spawned here rather than through lib/exec (which waits for exit).
    const child = spawn(this.bin, ['serve', config], { detached: true, stdio: ['ignore', log, log] });
    closeSync(log);
    let exited: string | undefined;
    child.once('exit', (code, sig) => (exited = `exited with ${code ?? sig}`));
    child.once('error', (err) => (exited = err.message));
    child.unref();
    if (child.pid === undefined) {
      // The reason (a missing binary: ENOENT) comes with the 'error' event, on the next tick.
      const why = exited ?? (await new Promise<string>((resolve) => child.once('error', (err) => resolve(err.message))));
      throw new Error(`docker-registry did not start: ${why}`);
    }
    writeFileSync(this.files.pid, `${child.pid}\n`, { mode: 0o600 });
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && exited === undefined) {
      if (await ready()) return child.pid;
      await sleep(50);
    }
    if (exited === undefined) await this.stop();
    throw new Error(`docker-registry ${exited ?? 'did not answer in time'}: ${this.logTail()}`);
  }

  /** SIGTERM (it finishes requests under way), SIGKILL after 10 s. */
  async stop(): Promise<void> {
    const pid = this.running()?.pid;
    if (pid !== undefined) {
      process.kill(pid, 'SIGTERM');
      const deadline = Date.now() + 10_000;
      while (isAlive(pid) && Date.now() < deadline) await sleep(25);
      if (isAlive(pid)) process.kill(pid, 'SIGKILL');
      while (isAlive(pid)) await sleep(10);
    }
    rmSync(this.files.pid, { force: true });
  }

  logTail(): string {
    try {
      return readFileSync(this.files.log, 'utf8').trim().split('\n').slice(-5).join('\n');
    } catch {
      return '(no log)';
    }
  }

  private rotateLog(): void {
    try {
      if (statSync(this.files.log).size > MAX_LOG_BYTES) rmSync(this.files.log);
    } catch {
      /* no log yet */
    }
  }
}
