import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BerthClient } from '../../src/client/index.js';
import { startServer, type TestServer } from '../support/server.js';
import { cli } from './helpers.js';
import { waitFor } from '../support/wait.js';

/** The volumes and add-ons commands of the CLI against a real server and engine. */
describe('berth volumes and berth addons', () => {
  let s: TestServer;
  let dev: BerthClient;
  let home: string;
  const berth = cli(() => s, () => dev, () => home);

  before(async () => {
    s = await startServer();
    dev = await s.newUser('dev');
    home = mkdtempSync(join(tmpdir(), 'berth-cli-'));
    await dev.call('createProject', { body: { name: 'kit' } });
  });
  after(async () => {
    await s?.destroy();
  });

  test('volumes: create, list, refuse a wrong typed confirmation, delete', async () => {
    const made = await berth(['volumes', 'create', 'files', '--project', 'kit', '--size', '64']);
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stdout, /Created volume files in kit/);
    const ls = JSON.parse((await berth(['volumes', 'ls', '--project', 'kit', '--json'])).stdout);
    assert.deepEqual(ls.map((v: { name: string; size_mb: number }) => [v.name, v.size_mb]), [['files', 64]]);
    const wrong = await berth(['volumes', 'rm', 'files', '--project', 'kit'], 'fils\n');
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /does not match/);
    assert.equal((await dev.call('listVolumes', { query: { project: 'kit' } })).items.length, 1, 'nothing was deleted');
    const rm = await berth(['volumes', 'rm', 'files', '--project', 'kit'], 'files\n');
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal((await dev.call('listVolumes', { query: { project: 'kit' } })).items.length, 0);
  });

  test('addons: create redis, back it up, list and download the backup, delete', async () => {
    const made = await berth(['addons', 'create', 'redis', '--name', 'cache', '--project', 'kit']);
    assert.equal(made.code, 0, made.stderr);
    await waitFor('the add-on to run', async () => {
      const info = JSON.parse((await berth(['addons', 'info', 'cache', '--json'])).stdout);
      return info.status === 'running' ? info : undefined;
    }, { timeoutMs: 120_000, intervalMs: 500 });
    const backup = await berth(['addons', 'backup', 'cache', '--json']);
    assert.equal(backup.code, 0, backup.stderr);
    const job = JSON.parse(backup.stdout);
    assert.equal(job.status, 'succeeded');
    const list = JSON.parse((await berth(['addons', 'backups', 'cache', '--json'])).stdout);
    assert.deepEqual(list.map((j: { id: string }) => j.id), [job.id]);
    const dl = await berth(['addons', 'download', 'cache', job.id, '-o', 'cache.rdb']);
    assert.equal(dl.code, 0, dl.stderr);
    assert.equal(statSync(join(home, 'cache.rdb')).size, job.size_bytes);
    const rm = await berth(['addons', 'rm', 'cache', '--confirm', 'cache']);
    assert.equal(rm.code, 0, rm.stderr);
    assert.deepEqual((await dev.call('listAddons', { query: {} })).items, []);
  });
});
