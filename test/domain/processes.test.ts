import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formationProcesses, processCommand, unknownProcessType, wantedFormation } from '../../src/domain/processes.js';
import { decodeProcesses } from '../../src/store/formation.js';
import { formationArgs } from '../../src/cli/commands/containers.js';

test('process types: web and release are not a formation of their own; bad names are left out and said', () => {
  const { processes, skipped } = formationProcesses({ web: 'node web.js', release: 'node migrate.js', worker: 'node w.js', ['x'.repeat(31)]: 'too long' });
  assert.deepEqual(processes, { worker: 'node w.js' });
  assert.deepEqual(skipped, ['x'.repeat(31)]);
});

test("process types: router and build are the kept log's own names (the router's access lines, a build's lines): a Procfile line of that name is left out and said", () => {
  const { processes, skipped } = formationProcesses({ web: 'node web.js', router: 'echo GET /admin HTTP/1.1 status=200', build: 'make', worker: 'node w.js' });
  assert.deepEqual(processes, { worker: 'node w.js' });
  assert.deepEqual(skipped, ['router', 'build']);
});

test('process types: the formation names web and each type; a type never scaled runs the default', () => {
  assert.deepEqual(wantedFormation(2, { worker: 'w', clock: 'c' }, { worker: 3 }, 1), { web: 2, worker: 3, clock: 1 });
  assert.deepEqual(wantedFormation(1, undefined, { worker: 3 }, 1), { web: 1 }, 'a type the release lacks is not shown');
});

test('process types: a change naming a type the release does not have is refused by that name', () => {
  assert.equal(unknownProcessType({ web: 2, worker: 1 }, { worker: 'w' }), null);
  assert.equal(unknownProcessType({ web: 2, clock: 1 }, { worker: 'w' }), 'clock');
  assert.equal(unknownProcessType({ worker: 1 }, undefined), 'worker');
  assert.equal(unknownProcessType({ constructor: 1 }, {}), 'constructor', 'no prototype key passes for a type');
});

test('process types: web runs the image’s command; the others their line under sh -c', () => {
  assert.equal(processCommand({ worker: 'w' }, 'web'), undefined);
  assert.deepEqual(processCommand({ worker: 'node w.js' }, 'worker'), ['sh', '-c', 'node w.js']);
  assert.throws(() => processCommand({}, 'worker'), /no process type worker/);
});

test('process types: the stored column is checked on the way out', () => {
  assert.deepEqual(decodeProcesses(null), {});
  assert.deepEqual(decodeProcesses('{"worker":"node w.js"}'), { worker: 'node w.js' });
  assert.throws(() => decodeProcesses('{"bad name":"x"}'), /bad process type/);
  assert.throws(() => decodeProcesses('[1]'), /not hold an object/);
});

test('process types: ps:scale pairs', () => {
  assert.deepEqual(formationArgs(['web=2', 'worker=3']), { web: 2, worker: 3 });
  assert.throws(() => formationArgs(['worker']), /not TYPE=REPLICAS/);
  assert.throws(() => formationArgs(['worker=-1']), /not TYPE=REPLICAS/);
});
