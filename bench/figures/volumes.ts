import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runOk } from '../../src/lib/exec.js';
import { BASE_IMAGE } from '../../test/support/images.js';
import { timeJob, type Bench } from '../support/context.js';
import { row, type Row } from '../support/report.js';

/** 100 files of 1 MB of random bytes (tar cannot shrink them, so both sides move the same bytes). */
const FILES = 100;

/**
 * Volume backup figures: a tar snapshot of a ~100 MB volume and its restore through Berth (a
 * hardened helper, the tar copied out of or into it through the engine's archive API, rows and
 * files) against the same tar run by hand in a `docker run --rm` with the volume and a host
 * directory mounted (no copy through the API, no rows).
 */
export async function volumeBackups(b: Bench): Promise<Row[]> {
  const { dev } = await b.shared();
  const v = await dev.call('createVolume', { body: { name: `bv${Date.now().toString(36)}`, project: 'bench' } });
  const job = (queue: () => Promise<{ id: string }>) => timeJob(queue, async (id) => (await dev.call('getVolumeJob', { params: { id: v.id, job: id } })).status);
  // The first backup makes the engine volume (labelled, writable); then it is filled.
  await job(() => dev.call('createVolumeBackup', { params: { id: v.id } }));
  const fill = `i=0; while [ $i -lt ${FILES} ]; do head -c 1048576 /dev/urandom > /v/f$i; i=$((i+1)); done`;
  await runOk('docker', ['run', '--rm', '--network', 'none', '-v', `${v.engine_name}:/v`, BASE_IMAGE, 'sh', '-c', fill], { timeoutMs: 300_000 });

  const backup = await job(() => dev.call('createVolumeBackup', { params: { id: v.id } }));
  const restore = await job(() => dev.call('restoreVolume', { params: { id: v.id }, body: { backup: backup.id } }));

  const dir = await mkdtemp(join(tmpdir(), 'berth-bench-vol-'));
  try {
    const by = async (readOnly: boolean, script: string) => {
      const t = performance.now();
      await runOk('docker', ['run', '--rm', '--network', 'none', '-v', `${v.engine_name}:/volume${readOnly ? ':ro' : ''}`, '-v', `${dir}:/out`, BASE_IMAGE, 'sh', '-c', script], { timeoutMs: 600_000 });
      return performance.now() - t;
    };
    const tarMs = await by(true, 'tar --numeric-owner -cpf /out/x.tar -C /volume .');
    const size = (await stat(join(dir, 'x.tar'))).size;
    const untarMs = await by(false, 'find /volume -mindepth 1 -delete; tar --numeric-owner -xpf /out/x.tar -C /volume');
    await dev.call('deleteVolume', { params: { id: v.id }, query: {} });
    const mb = (size / 1024 / 1024).toFixed(0);
    return [
      row({ group: 'volumes', figure: `volume: backup of ${mb} MB`, unit: 's', berth: backup.ms / 1000, baseline: tarMs / 1000, baselineName: 'docker run --rm tar -c to a host dir', better: 'lower', note: `${FILES} files of 1 MB` }),
      row({ group: 'volumes', figure: `volume: restore of ${mb} MB`, unit: 's', berth: restore.ms / 1000, baseline: untarMs / 1000, baselineName: 'docker run --rm tar -x from a host dir', better: 'lower', note: 'same tar, volume emptied first' }),
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
