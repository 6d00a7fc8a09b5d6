import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { writeFileAtomic } from '../../src/lib/atomic-file.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-atomic-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// Two builds of one project wrote its signature policy at once through one shared temp name: one
// renamed it away and the other's rename failed with ENOENT, failing that build (a suite run).
test('many writers of one file at once: none fails, the file is one writer’s text whole, no temp file is left', async () => {
  const path = join(dir, 'policy.json');
  const texts = Array.from({ length: 50 }, (_, i) => `${JSON.stringify({ writer: i, pad: 'x'.repeat(i * 100) })}\n`);
  await Promise.all(texts.map((t) => writeFileAtomic(path, t)));
  assert.ok(texts.includes(readFileSync(path, 'utf8')), 'the file holds one whole text');
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(dir), ['policy.json']);
});
