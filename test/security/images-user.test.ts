import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveImageUser, ImageUserError, needsLookup } from '../../src/runtime/image-user.js';
import { NOBODY } from '../../src/runtime/hardening.js';
import { redact } from '../../src/lib/redact.js';
import { isSharedImage, repositoryOfRef } from '../../src/domain/image-owners.js';

const PASSWD = 'root:x:0:0:root:/root:/bin/bash\ntoor:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\nnobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\n';
const GROUP = 'root:x:0:\nstaff:x:50:\napp:x:1001:\n';
const files = { passwd: PASSWD, group: GROUP };

test('uid 0 in any spelling is root and runs as nobody: "", root, 0, 0000, 00:00, a passwd name with uid 0, root:group', () => {
  for (const u of ['', 'root', '0', '0000', '00:00', '0:1000', 'toor', 'toor:staff', 'root:staff', ' 0 ']) {
    const r = resolveImageUser(u, files);
    assert.equal(r.root, true, u);
    assert.equal(r.runAs, NOBODY, u);
  }
});

test('other users run as their numeric ids, names resolved from the image\'s own files', () => {
  assert.deepEqual(resolveImageUser('app', files), { declared: 'app', runAs: '1000:1001', root: false });
  assert.deepEqual(resolveImageUser('1000', files), { declared: '1000', runAs: '1000', root: false });
  assert.deepEqual(resolveImageUser('app:staff', files), { declared: 'app:staff', runAs: '1000:50', root: false });
  assert.deepEqual(resolveImageUser('10001:0', files), { declared: '10001:0', runAs: '10001:0', root: false });
  assert.deepEqual(resolveImageUser('00100', { passwd: null, group: null }), { declared: '00100', runAs: '100', root: false });
});

test('a user the image cannot resolve is an error, never a guess', () => {
  for (const [u, f] of [['ghost', files], ['app', { passwd: null, group: null }], ['app:ghosts', files], ['1:2:3', files], ['99999999999', files]] as const) {
    assert.throws(() => resolveImageUser(u, f), ImageUserError, u);
  }
  assert.deepEqual(needsLookup('1000:50'), { passwd: false, group: false });
  assert.deepEqual(needsLookup('toor'), { passwd: true, group: false });
  assert.deepEqual(needsLookup('0:staff'), { passwd: false, group: true });
});

test('redact hides the whole user part of a URL: a token as user, a password, both', () => {
  assert.equal(redact('cloning https://ghp_secret@github.com/a/b.git now'), 'cloning https://***@github.com/a/b.git now');
  assert.equal(redact('https://u:pw@h.example/x and http://tok@127.0.0.1:1/y'), 'https://***@h.example/x and http://***@127.0.0.1:1/y');
  assert.equal(redact('https://github.com/a/b.git'), 'https://github.com/a/b.git');
});

test('shared repositories match by repository only, never by id or digest', () => {
  assert.equal(repositoryOfRef('team/app:1'), 'team/app');
  assert.equal(repositoryOfRef('localhost:5000/team/app'), 'localhost:5000/team/app');
  assert.equal(isSharedImage('berth-test/app:abc', ['berth-test/*']), true);
  assert.equal(isSharedImage('berth-test/app', ['berth-test/app']), true);
  assert.equal(isSharedImage('berth/app_x:1', ['berth-test/*']), false);
  assert.equal(isSharedImage('berth-testx/app:1', ['berth-test/*']), false);
  assert.equal(isSharedImage('sha256:' + 'a'.repeat(64), ['sha256']), false);
  assert.equal(isSharedImage('berth-test/app@sha256:' + 'a'.repeat(64), ['berth-test/*']), false);
});
