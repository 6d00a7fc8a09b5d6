import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseProcNet } from '../../src/runtime/listening.js';
import { diagnoseListening, explainExit } from '../../src/controllers/explain.js';

const HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';

test("the kernel's socket tables: listening sockets only, addresses as bound", () => {
  const v4 = HEADER +
    '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1 1 0 100 0 0 10 0\n' +
    '   1: 00000000:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 2 1 0 100 0 0 10 0\n' +
    '   2: 0200A8C0:1F90 0100A8C0:D2F0 01 00000000:00000000 00:00000000 00000000  1000        0 3 1 0 100 0 0 10 0\n';
  assert.deepEqual(parseProcNet(v4, 4), [
    { address: '127.0.0.1', port: 8080 },
    { address: '0.0.0.0', port: 3000 },
  ]);
  const v6 = HEADER +
    '   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 0 0 0 0 0 1\n' +
    '   1: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 0 0 0 0 0 1\n' +
    '   2: 0000000000000000FFFF00000100007F:1F91 00000000000000000000000000000000:0000 0A 0 0 0 0 0 1\n' +
    '   3: garbage\n';
  assert.deepEqual(parseProcNet(v6, 6), [
    { address: '::1', port: 8080 },
    { address: '::', port: 80 },
    { address: '127.0.0.1', port: 8081 },
  ]);
});

test('a replica that listens only on loopback, on another port, or not yet: each said so', () => {
  assert.deepEqual(diagnoseListening([{ address: '0.0.0.0', port: 8080 }], 8080), { kind: 'reachable' });
  assert.deepEqual(diagnoseListening([{ address: '::', port: 8080 }, { address: '127.0.0.1', port: 9229 }], 8080), { kind: 'reachable' });
  assert.deepEqual(diagnoseListening([{ address: '172.18.0.5', port: 8080 }], 8080), { kind: 'reachable' });

  const lo = diagnoseListening([{ address: '127.0.0.1', port: 8080 }, { address: '::1', port: 8080 }], 8080);
  assert.equal(lo.kind, 'loopback');
  assert.match((lo as { message: string }).message, /listens on 127\.0\.0\.1:8080 and \[::1\]:8080 only.*0\.0\.0\.0/);

  const other = diagnoseListening([{ address: '0.0.0.0', port: 3000 }], 8080);
  assert.equal(other.kind, 'other-port');
  assert.match((other as { message: string }).message, /listens on port 3000, not on 8080: .*PORT environment variable/);

  assert.equal(diagnoseListening([], 8080).kind, 'nothing');
});

test('an early exit says why: code, signal, out of memory with its limit, or a web process that ended', () => {
  assert.match(explainExit({ exitCode: 3 }), /^the process exited with code 3 before it became healthy/);
  assert.match(explainExit({ exitCode: 137, oomKilled: true, memoryMb: 64 }), /over its memory limit of 64 MB \(out of memory, exit code 137\)/);
  assert.match(explainExit({ exitCode: 139 }), /killed by SIGSEGV \(exited with code 139/);
  assert.match(explainExit({ exitCode: 0 }), /code 0 .*must keep running and listen on \$PORT/);
  assert.match(explainExit({ exitCode: null }), /exited with code unknown/);
});
