import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatArgv, parseArgv } from '../../src/lib/argv.js';

test('a command on one line: words split on spaces, or a JSON array; back again', () => {
  assert.deepEqual(parseArgv('  npm run   migrate '), ['npm', 'run', 'migrate']);
  assert.deepEqual(parseArgv(''), []);
  assert.deepEqual(parseArgv('["sh","-c","echo $HOME > /tmp/x"]'), ['sh', '-c', 'echo $HOME > /tmp/x']);
  assert.throws(() => parseArgv('["sh", 1]'), /JSON array of strings/);
  assert.throws(() => parseArgv('[not json'), /JSON array of strings/);
  assert.equal(formatArgv(['npm', 'run', 'migrate']), 'npm run migrate');
  const spaced = ['sh', '-c', 'echo hi'];
  assert.deepEqual(parseArgv(formatArgv(spaced)), spaced);
});
