import { test } from 'node:test';
import assert from 'node:assert/strict';
import { baseBackupDue, helperResult, parseTarget, pgTime, windowStart } from '../../src/domain/addon-pitr.js';

test('a restore target: UTC unless an offset is given; impossible or malformed times are null', () => {
  assert.equal(parseTarget('2026-12-05 14:04:30')?.toISOString(), '2026-12-05T14:04:30.000Z');
  assert.equal(parseTarget('2026-12-05T14:04:30.25Z')?.toISOString(), '2026-12-05T14:04:30.250Z');
  assert.equal(parseTarget('2026-12-05 15:04:30+01:00')?.toISOString(), '2026-12-05T14:04:30.000Z');
  assert.equal(parseTarget('2026-12-05 09:04:30-0500')?.toISOString(), '2026-12-05T14:04:30.000Z');
  for (const bad of ['2026-02-30 10:00:00', '2026-12-05 24:00:00', '2026-12-05 14:60:00', '2026-12-05', 'yesterday', '2026-12-05 14:04:30; drop table x', '']) {
    assert.equal(parseTarget(bad), null, bad);
  }
  assert.equal(pgTime(new Date('2026-12-05T14:04:30.250Z')), '2026-12-05 14:04:30.250+00');
});

test('base backups are due first, then on the schedule or daily; the window starts at the oldest kept backup’s end', () => {
  const at = new Date('2026-12-05T12:00:00Z');
  assert.equal(baseBackupDue({ pitr_base_at: null, backup_schedule: null }, at), true);
  assert.equal(baseBackupDue({ pitr_base_at: '2026-12-05T02:00:00Z', backup_schedule: null }, at), false);
  assert.equal(baseBackupDue({ pitr_base_at: '2026-12-04T11:59:00Z', backup_schedule: null }, at), true);
  assert.equal(baseBackupDue({ pitr_base_at: '2026-12-05T02:00:00Z', backup_schedule: '0 3 * * *' }, at), true);
  assert.equal(baseBackupDue({ pitr_base_at: '2026-12-05T03:00:05Z', backup_schedule: '0 3 * * *' }, at), false);
  const info = JSON.stringify([{ backup: [{ timestamp: { start: 1796508141, stop: 1796508145 } }, { timestamp: { start: 1796594541, stop: 1796594550 } }] }]);
  assert.equal(windowStart(info), new Date(1796508145 * 1000).toISOString());
  assert.equal(windowStart('[{"backup":[]}]'), null);
  assert.equal(helperResult(['noise', 'berth-result=2026-12-05T14:04:29.123456Z', 'more']), '2026-12-05T14:04:29.123456Z');
  assert.equal(helperResult(['noise']), null);
});
