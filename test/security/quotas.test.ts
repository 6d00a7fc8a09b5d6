import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ApiError, BerthClient } from '../../src/client/index.js';
import { startServer, type TestServer } from '../support/server.js';

/** One tenant cannot take the machine from the others: quotas on what a user makes, and on placement. */
describe('quotas', () => {
  let s: TestServer;
  let uma: BerthClient;
  let dev: BerthClient;
  let umaId: string;

  before(async () => {
    s = await startServer({
      env: {
        BERTH_QUOTA_PROJECTS: '2',
        BERTH_QUOTA_APPS_PER_PROJECT: '2',
        BERTH_QUOTA_REPLICAS: '3',
        BERTH_QUOTA_MEMORY_MB: '256',
        BERTH_QUOTA_CRON_MIN_INTERVAL_S: '60',
        BERTH_DEFAULT_CPU: '0.5',
        BERTH_PLACEMENT_LABELS: 'tier',
      },
    });
    uma = await s.newUser('uma');
    dev = await s.newUser('dev');
    umaId = (await uma.call('whoami')).id;
  });
  after(async () => {
    await s?.destroy();
  });

  /** The refusal a user gets: status, code and field. */
  async function refused(p: Promise<unknown>, code: string, field: string) {
    const err = (await p.then(
      () => assert.fail(`expected ${code} on ${field}`),
      (e: unknown) => e,
    )) as ApiError;
    assert.equal(err.status, 403, `${err.code}: ${err.message}`);
    assert.equal(err.code, code, err.message);
    assert.equal((err.details as { field?: string } | undefined)?.field, field, err.message);
  }

  test('projects per user: the default, then an admin’s override', async () => {
    await uma.call('createProject', { body: { name: 'p1' } });
    await uma.call('createProject', { body: { name: 'p2' } });
    await refused(uma.call('createProject', { body: { name: 'p3' } }), 'quota_exceeded', 'name');
    const q = await s.admin.call('setUserQuota', { params: { id: umaId }, body: { projects: 3 } });
    assert.equal(q.projects, 3);
    assert.deepEqual(q.overridden, ['projects']);
    assert.equal(q.replicas, 3, 'the others keep their defaults');
    await uma.call('createProject', { body: { name: 'p3' } });
    await refused(uma.call('createProject', { body: { name: 'p4' } }), 'quota_exceeded', 'name');
    assert.equal((await s.admin.call('setUserQuota', { params: { id: umaId }, body: { projects: null } })).projects, 2);
  });

  test("apps per project, replicas, memory and CPU, counted against the project owner's quota", async () => {
    await uma.call('addMember', { params: { id: 'p1' }, body: { username: 'dev', role: 'developer' } });
    const a = await uma.call('createApp', { body: { name: 'a1', project: 'p1' } });
    assert.equal(a.cpu, 0.5, 'a new app gets the default CPU limit');
    await refused(uma.call('createApp', { body: { name: 'big', project: 'p1', replicas: 4 } }), 'quota_exceeded', 'replicas');
    await refused(uma.call('createApp', { body: { name: 'fat', project: 'p1', memory: 512 } }), 'quota_exceeded', 'memory');
    await refused(uma.call('createApp', { body: { name: 'free', project: 'p1', cpu: 0 } }), 'quota_exceeded', 'cpu');
    await dev.call('createApp', { body: { name: 'a2', project: 'p1', replicas: 3, memory: 256 } });
    await refused(dev.call('createApp', { body: { name: 'a3', project: 'p1' } }), 'quota_exceeded', 'project');
    await refused(dev.call('scaleApp', { params: { id: 'a1' }, body: { replicas: 100 } }), 'quota_exceeded', 'replicas');
    await refused(dev.call('updateApp', { params: { id: 'a1' }, body: { replicas: 4 } }), 'quota_exceeded', 'replicas');
    await refused(dev.call('updateApp', { params: { id: 'a1' }, body: { memory: 65536 } }), 'quota_exceeded', 'memory');
    await refused(dev.call('deployApp', { params: { id: 'a1' }, body: { image_id: 'x:1', replicas: 50 } }), 'quota_exceeded', 'replicas');
    assert.equal((await dev.call('scaleApp', { params: { id: 'a1' }, body: { replicas: 3 } })).replicas, 3);
    // An override for the owner raises the limit for every member of the owner's projects.
    await s.admin.call('setUserQuota', { params: { id: umaId }, body: { replicas: 10, apps_per_project: 3 } });
    assert.equal((await dev.call('scaleApp', { params: { id: 'a1' }, body: { replicas: 10 } })).replicas, 10);
    await dev.call('createApp', { body: { name: 'a3', project: 'p1' } });
    // Admins are not limited.
    const mine = await s.admin.call('createApp', { body: { name: 'ops', replicas: 0, memory: 4096, cpu: 0 } });
    assert.equal(mine.cpu, 0);
  });

  test('scheduled commands fire at most once a minute', async () => {
    for (const schedule of ['* * * * * *', '*/30 * * * * *', '0,30 * * * * *']) {
      await refused(uma.call('addCron', { params: { id: 'a1' }, body: { schedule, command: ['true'] } }), 'quota_exceeded', 'schedule');
    }
    await uma.call('addCron', { params: { id: 'a1' }, body: { schedule: '* * * * *', command: ['true'] } });
  });

  test('placement constraints may name only the node labels the admin allows', async () => {
    for (const [c, i] of [['node.hostname==manager', 0], ['node.role==manager', 0], ['node.labels.secure==yes', 0], ['engine.labels.gpu==1', 0]] as const) {
      await refused(uma.call('updateApp', { params: { id: 'a1' }, body: { placement: { constraints: [c] } } }), 'placement_not_allowed', `placement.constraints.${i}`);
    }
    await refused(
      uma.call('updateApp', { params: { id: 'a1' }, body: { placement: { constraints: ['node.labels.tier==web', 'node.hostname==x'] } } }),
      'placement_not_allowed',
      'placement.constraints.1',
    );
    const ok = await uma.call('updateApp', { params: { id: 'a1' }, body: { placement: { constraints: ['node.labels.tier==web'] } } });
    assert.deepEqual(ok.placement, { constraints: ['node.labels.tier==web'] });
  });
});
