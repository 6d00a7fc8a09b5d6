// Runs test files in ONE Node process (what `node --test --test-isolation=none` does from Node
// 22.8; this machine's Node 20 lacks it): the fast tests share their start-up (Node, Kysely,
// Fastify, the migrations' template) instead of paying it per file, about half their CPU time.
// node:test runs and reports the imported files' tests; the exit code is non-zero if one fails.
// Usage: node scripts/fast-tests.mjs dist/test/a.test.js dist/test/b.test.js ...
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

for (const file of process.argv.slice(2)) await import(pathToFileURL(resolve(file)).href);
