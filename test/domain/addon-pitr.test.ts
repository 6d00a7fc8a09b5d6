import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { baseBackupDue, helperResult, parseTarget, pgTime, windowStart } from '../../src/domain/addon-pitr.js';
import { CHOOSE_BACKUP } from '../../src/domain/addon-pitr-choice.js';

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

test('the base backup a restore starts from lies on the history of the timeline it follows: never one of a branch an in-place restore abandoned', async () => {
  // The program runs in the add-on's image; here on this machine's perl (Debian's perl-base and JSON::PP, as in the image).
  const dir = await mkdtemp(join(tmpdir(), 'berth-pitr-choice-'));
  try {
    await mkdir(join(dir, '17-1'));
    // Timeline 2 left timeline 1 at 0/5000060 (an in-place restore); timeline 3 left timeline 1 earlier, at 0/2800000.
    await writeFile(join(dir, '17-1', '00000002.history'), '1\t0/5000060\tbefore 2026-12-06 10:00:00+00\n');
    await writeFile(join(dir, '17-1', '00000003.history'), '1\t0/2800000\tbefore 2026-12-06 09:00:00+00\n');
    const backup = (label: string, tli: number, stop: number, lsnStop: string) => ({ label, archive: { start: `${tli.toString(16).toUpperCase().padStart(8, '0')}0000000000000002` }, lsn: { start: '0/2000028', stop: lsnStop }, timestamp: { start: stop - 5, stop } });
    const info = JSON.stringify([{ backup: [backup('B1', 1, 1000, '0/3000100'), backup('B2', 1, 1100, '0/6000158'), backup('B3', 2, 1200, '0/7000100')] }]);
    const choose = (target: number, tli: number) => {
      const r = spawnSync('perl', ['-e', CHOOSE_BACKUP, String(target), String(tli), dir], { input: info, encoding: 'utf8', timeout: 10_000 });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout.trim();
    };
    assert.equal(choose(1150, 2), 'B1 1', 'the backup of the abandoned branch (B2, after the fork point) is passed over');
    assert.equal(choose(1150, 1), 'B2 1', 'on its own timeline it is the newest that ended by the time');
    assert.equal(choose(1250.5, 2), 'B3 2', 'the new timeline’s own backup once it ended');
    assert.equal(choose(1200.5, 2), 'B1 1', 'a backup that ended within the second before the time is not taken');
    assert.equal(choose(500, 2), 'B1 1', 'none ended by the time: the oldest on the history');
    assert.equal(choose(1150, 3), '', 'no backup on the history of a timeline that left before them all');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
