import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { pathOf } from '../../src/router/haproxy/config.js';
import { HaproxyProcess, isHaproxy } from '../../src/router/haproxy/process.js';

// A pid file left by a killed HAProxy may name a pid the kernel gave to another process since: the
// router must not take that process for its HAProxy (it would signal it, or never start its own).
const dirs: string[] = [];
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A process whose command line is `argv0 -e <idle> -- args...`, idle until killed. */
function impostor(argv0: string, ...args: string[]): number {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e6)', '--', ...args], { argv0, stdio: 'ignore' });
  children.push(child);
  return child.pid!;
}

function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'berth-proc-'));
  dirs.push(d);
  return d;
}

test("a recycled pid is not taken for the router's HAProxy: another program, or another data directory's HAProxy", async () => {
  const dir = dataDir();
  const proc = new HaproxyProcess(dir);
  const config = pathOf(dir, 'config');
  const cases: [string, number][] = [
    ['a program whose arguments mention haproxy', impostor('less', '/var/lib/berth/haproxy/haproxy.log')],
    ['an haproxy of another data directory', impostor('haproxy', '-W', '-f', pathOf(dataDir(), 'config'))],
    ['an haproxy with our config file as a plain argument', impostor('haproxy', '-c', config)],
  ];
  for (const [what, pid] of cases) {
    writeFileSync(pathOf(dir, 'pid'), `${pid}\n`);
    assert.equal(proc.livePid(), undefined, `${what} (pid ${pid}) was taken for ours`);
    assert.equal(isHaproxy(pid, config), false, what);
  }
  // The same program on our config file is ours (the real HAProxy is proven by test/router/haproxy).
  const ours = impostor('/usr/sbin/haproxy', '-W', '-S', `${pathOf(dir, 'master')},mode,600`, '-f', config);
  writeFileSync(pathOf(dir, 'pid'), `${ours}\n`);
  assert.equal(proc.livePid(), ours);
});
