import { test } from 'node:test';
import assert from 'node:assert/strict';
import { engineStore } from '../support/store.js';
import { now } from '../../src/store/db.js';
import { insertVolume } from '../../src/store/volumes.js';
import { insertJob, jobById, newJob, updateJob } from '../../src/store/backups.js';

/** A backup of 5 GB records its size, and it reads back as the same number, on both databases (PostgreSQL's integer stopped at 2 GiB). */
for (const engine of ['sqlite', 'postgres'] as const) {
  test(`backups: a 5 GB backup's size is kept exactly (${engine})`, async (t) => {
    const { db, projectId } = await engineStore(t, engine, 'berth-backup-size-');
    await insertVolume(db, { id: 'vol_big', project_id: projectId, name: 'big', size_mb: null, backup_schedule: null, backup_keep: 3, created_at: now() });
    await insertJob(db, newJob('bkp_big', { kind: 'volume', id: 'vol_big' }, 'backup', 'manual'));
    const size = 5_000_000_123;
    await updateJob(db, 'bkp_big', { status: 'succeeded', size_bytes: size, finished_at: now() });
    const job = await jobById(db, 'bkp_big');
    assert.equal(job?.status, 'succeeded');
    assert.strictEqual(job?.size_bytes, size);
  });
}
