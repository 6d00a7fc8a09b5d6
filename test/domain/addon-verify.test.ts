import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_VERIFY_QUERY, verifyAnswer, verifyFailure, verifyQueryProblem } from '../../src/domain/addon-verify.js';

test('a restore check’s query: one statement that reads; quotes, dollar quotes and comments understood', () => {
  for (const ok of [
    DEFAULT_VERIFY_QUERY,
    'select count(*) from orders;',
    "SELECT count(*) FROM notes WHERE body <> 'a;b' -- one; statement\n;",
    'with t as (select 1) select * from t',
    '(select 1) union (select 2)',
    'select $x$;\\$x$, "odd;name" from "t;1"',
    'values (1), (2)',
    'table orders',
    'show server_version',
    '/* a; comment */ select 1',
  ]) {
    assert.equal(verifyQueryProblem(ok), null, ok);
  }
  const bad: [string, RegExp][] = [
    ['', /empty/],
    ['   ', /empty/],
    ['select 1; drop table notes', /one statement/],
    ['select 1;;', /one statement/],
    ['delete from notes', /read only/],
    ['insert into t values (1)', /read only/],
    ['begin', /read only/],
    ['\\! id', /backslash/],
    ['select 1 \\g', /backslash/],
    ["select 'open", /unterminated/],
    ['select $a$ open', /unterminated/],
    ['select 1 /* open', /unterminated/],
    ['select 1\u0000', /NUL/],
    [`select ${'1'.repeat(2001)}`, /longer/],
  ];
  for (const [q, why] of bad) assert.match(verifyQueryProblem(q) ?? 'accepted', why, JSON.stringify(q.slice(0, 40)));
});

test('a check’s answer is read from its result line; a failure says which step failed, with the tool’s last lines', () => {
  const b64 = Buffer.from('3 notes\nlast').toString('base64');
  assert.equal(verifyAnswer(['noise', `berth-verify=${b64}`]), '3 notes\nlast');
  assert.equal(verifyAnswer(['noise']), null);
  assert.equal(verifyAnswer(['berth-verify=']), '');
  assert.match(verifyFailure('postgres', 2, ['pg_restore: error: could not read from input file: end of file']), /^pg_restore could not restore the backup: pg_restore: error/);
  assert.match(verifyFailure('postgres', 2, ['x'], true), /^pgbackrest could not restore the backup/);
  assert.match(verifyFailure('postgres', 3, ['ERROR:  relation "orders" does not exist']), /did not answer the query: ERROR/);
  assert.match(verifyFailure('postgres', 137, []), /killed/);
  assert.match(verifyFailure('redis', 2, ['Bad file format reading the append only file']), /^the snapshot did not load: Bad file/);
});
