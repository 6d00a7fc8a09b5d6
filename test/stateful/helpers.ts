import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { ApiError } from '../../src/client/index.js';
import { CLI_MAIN } from '../support/server.js';
import { waitFor } from '../support/wait.js';

/** Asserts the call fails with this status and names this field. */
export async function rejectsWith(p: Promise<unknown>, status: number, field: string) {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof ApiError, String(err));
    assert.equal(err.status, status, err.message);
    assert.equal((err.details as { field?: string } | undefined)?.field, field, err.message);
    return true;
  });
}

/**
 * The CLI on a real pseudo-terminal (script(1)), as a user's terminal runs it: `type` sends keys,
 * `shows` waits until the screen matches (failing with what it showed), `exited` is its exit code.
 */
export function onTerminal(args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn('script', ['-qefc', [process.execPath, CLI_MAIN, ...args].join(' '), '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return {
    screen: () => out,
    type: (keys: string) => void child.stdin.write(keys),
    shows: (what: RegExp) =>
      waitFor(`the terminal to show ${what}`, async () => (what.test(out) ? true : undefined), { timeoutMs: 60_000, intervalMs: 100 }).catch((err: Error) => {
        throw new Error(`${err.message}; the terminal showed: ${JSON.stringify(out)}`);
      }),
    exited: new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code))),
    kill: () => child.kill(),
  };
}
