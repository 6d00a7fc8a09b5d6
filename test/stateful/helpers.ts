import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ApiError, type BerthClient } from '../../src/client/index.js';
import { run } from '../../src/lib/exec.js';
import { CLI_MAIN, type TestServer } from '../support/server.js';
import { settled } from '../support/rollout.js';
import { waitFor } from '../support/wait.js';

/** The running server container of an add-on ('' when none runs). */
export const addonContainer = async (addonId: string) =>
  (await run('docker', ['ps', '-q', '--filter', `label=berth.addon=${addonId}`], { timeoutMs: 30_000 })).stdout.trim();

/** psql inside the add-on's own container (its socket, its password), one statement per call: its output. */
export const addonPsql = async (addonId: string, sql: string) =>
  (await run('docker', ['exec', await addonContainer(addonId), 'sh', '-c', 'PGPASSWORD="$BERTH_ADDON_PASSWORD" psql -h /tmp -U "$BERTH_ADDON_USER" -d "$BERTH_ADDON_DB" -v ON_ERROR_STOP=1 -Atc "$0"', sql], { timeoutMs: 60_000 })).stdout.trim();

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

/**
 * Creates and deploys the test app `keeper` in the project (recreate, health-checked, with these
 * mounts), and waits for v1 to be live; a failure carries the server's last output.
 */
export async function deployKeeper(s: TestServer, dev: BerthClient, image: string, project: string, volumes: { volume: string; path: string }[] = []) {
  await dev.call('createApp', { body: { name: 'keeper', project, strategy: 'recreate', health_check: { path: '/health', timeout_s: 30, grace_s: 0 } } });
  if (volumes.length) await dev.call('updateApp', { params: { id: 'keeper' }, body: { volumes } });
  await dev.call('deployApp', { params: { id: 'keeper' }, body: { image_id: image } });
  const v1 = await settled(dev, 'keeper', 1, 90_000).catch((err) => {
    throw new Error(`${err.message}\n${s.output().slice(-3000)}`);
  });
  assert.equal(v1.status, 'live', v1.reason ?? '');
}

/** Runs the CLI as the client's user against the server, in `home` (its config file there). */
export function cli(s: () => TestServer, dev: () => BerthClient, home: () => string) {
  return (args: string[], input?: string) =>
    run(process.execPath, [CLI_MAIN, ...args], {
      timeoutMs: 120_000,
      cwd: home(),
      input,
      env: { ...process.env, BERTH_CONFIG: join(home(), 'c.json'), BERTH_URL: s().url, BERTH_TOKEN: dev().opts.token! },
    });
}

type BackupItem = { id: string; trigger: string; status: string };

/**
 * Sets a schedule of a backup every 2 s with backup_keep 2, waits for three scheduled backups,
 * checking that no more than two are ever kept, turns the schedule off and returns the ones left.
 */
export async function scheduledAndPruned(setSchedule: (schedule: string | null) => Promise<unknown>, list: () => Promise<BackupItem[]>): Promise<BackupItem[]> {
  await setSchedule('*/2 * * * * *');
  const seen = new Set<string>();
  await waitFor('three scheduled backups to have been made', async () => {
    const items = await list();
    for (const i of items) if (i.trigger === 'schedule' && i.status === 'succeeded') seen.add(i.id);
    assert.ok(items.filter((i) => i.status === 'succeeded').length <= 2, `more than backup_keep kept: ${items.length}`);
    return seen.size >= 3 ? true : undefined;
  }, { timeoutMs: 120_000, intervalMs: 300 });
  await setSchedule(null);
  const left = (await list()).filter((i) => i.status === 'succeeded');
  assert.equal(left.length, 2, 'pruned to backup_keep');
  return left;
}
