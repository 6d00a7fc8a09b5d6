import { spawn } from 'node:child_process';

export interface RunOptions {
  /** Hard limit; the process group is killed when it passes. */
  timeoutMs: number;
  /** Cancels the command (SIGTERM, then SIGKILL) when aborted. */
  signal?: AbortSignal;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Written to stdin, then stdin is closed. */
  input?: string | Buffer;
  /** Called for each complete line of stdout and stderr as it arrives. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Cap on captured output per stream, so a chatty command cannot exhaust memory. */
  maxOutputBytes?: number;
  /** Called with the process id as soon as it exists (to place it in a cgroup before it forks). */
  onSpawn?: (pid: number) => void;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  aborted: boolean;
}

export class CommandError extends Error {
  constructor(
    message: string,
    readonly result: RunResult,
  ) {
    super(message);
  }
}

/**
 * Runs a program with an argument array (never a shell), a timeout and an abort path.
 * Resolves with the result whatever the exit code; use runOk to throw on failure.
 */
export function run(cmd: string, args: readonly string[], opts: RunOptions): Promise<RunResult> {
  const max = opts.maxOutputBytes ?? 4 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) {
      resolve({ code: null, signal: null, stdout: '', stderr: '', timedOut: false, aborted: true });
      return;
    }
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      // Own process group, so a timeout kills the command's children too.
      detached: true,
    });
    if (child.pid && opts.onSpawn) {
      try {
        opts.onSpawn(child.pid);
      } catch (err) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
        reject(err as Error);
        return;
      }
    }
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let aborted = false;
    const partial = { stdout: '', stderr: '' };

    const collect = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      if (stream === 'stdout') {
        if (stdout.length < max) stdout += text;
      } else if (stderr.length < max) stderr += text;
      if (opts.onLine) {
        const lines = (partial[stream] + text).split(/\r?\n|\r/);
        partial[stream] = lines.pop() ?? '';
        for (const line of lines) opts.onLine(line, stream);
      }
    };
    child.stdout.on('data', collect('stdout'));
    child.stderr.on('data', collect('stderr'));

    const kill = (sig: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, sig);
      } catch {
        /* already gone */
      }
    };
    const stop = () => {
      kill('SIGTERM');
      setTimeout(() => kill('SIGKILL'), 3000).unref();
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, opts.timeoutMs);
    const onAbort = () => {
      aborted = true;
      stop();
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    child.on('error', (err) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (opts.onLine) {
        if (partial.stdout) opts.onLine(partial.stdout, 'stdout');
        if (partial.stderr) opts.onLine(partial.stderr, 'stderr');
      }
      resolve({ code, signal, stdout, stderr, timedOut, aborted });
    });
    child.stdin.on('error', () => {
      /* the command may exit before reading its input */
    });
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}

/** Like run, but throws a CommandError unless the command exited 0. */
export async function runOk(cmd: string, args: readonly string[], opts: RunOptions): Promise<RunResult> {
  const res = await run(cmd, args, opts);
  if (res.code !== 0) {
    const why = res.timedOut
      ? `timed out after ${opts.timeoutMs} ms`
      : res.aborted
        ? 'was canceled'
        : `exited with ${res.code ?? res.signal}`;
    const tail = (res.stderr || res.stdout).trim().split('\n').slice(-5).join('\n');
    throw new CommandError(`${cmd} ${why}${tail ? `: ${tail}` : ''}`, res);
  }
  return res;
}
