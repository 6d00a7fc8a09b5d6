import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { extractArchive, type ArchiveLimits } from '../../src/builder/archive.js';
import { ArchiveError } from '../../src/builder/errors.js';
import { makeZip, tempDir } from './helpers.js';

const LIMITS: ArchiveLimits = { maxArchiveBytes: 10 * 1024 * 1024, maxExpandedBytes: 20 * 1024 * 1024, maxEntries: 1000 };

interface TarItem {
  name: string;
  type?: tar.Header['type'];
  data?: string;
  linkname?: string;
  mode?: number;
}

async function makeTar(items: TarItem[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c) => chunks.push(c as Buffer));
  const ended = new Promise<void>((r) => pack.on('end', () => r()));
  for (const it of items) {
    const type = it.type ?? 'file';
    const header: Partial<tar.Header> & { name: string } = { name: it.name, type, mode: it.mode ?? (type === 'directory' ? 0o755 : 0o644) };
    if (it.linkname !== undefined) header.linkname = it.linkname;
    if (type === 'file') pack.entry(header, it.data ?? '');
    else pack.entry(header as tar.Header);
  }
  pack.finalize();
  await ended;
  return Buffer.concat(chunks);
}

/** A scratch area: the archive file, and `dest` inside a parent we can check for escapes. */
async function scratch(content: Buffer, name = 'upload.bin') {
  const dir = await tempDir('archive');
  const file = path.join(dir, name);
  await fs.writeFile(file, content);
  const dest = path.join(dir, 'parent', 'dest');
  await fs.mkdir(path.dirname(dest));
  return {
    dir,
    file,
    dest,
    cleanup: () => fs.rm(dir, { recursive: true, force: true }),
  };
}

async function refused(content: Buffer, code: string, entryPattern?: RegExp, limits = LIMITS): Promise<ArchiveError> {
  const s = await scratch(content);
  try {
    const err = await extractArchive(s.file, s.dest, limits).then(
      () => assert.fail(`expected ${code}`),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ArchiveError, `expected an ArchiveError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (entryPattern) assert.match(err.message, entryPattern);
    // Nothing left behind, inside or beside the destination.
    assert.deepEqual(await fs.readdir(s.dest).catch(() => []), []);
    assert.deepEqual((await fs.readdir(path.dirname(s.dest))).filter((n) => n !== 'dest'), []);
    return err;
  } finally {
    await s.cleanup();
  }
}

test('tar.gz from a GitHub-style archive: top folder stripped, modes and inside symlinks kept', async () => {
  const tarball = await makeTar([
    { name: 'repo-main/', type: 'directory' },
    { name: 'repo-main/package.json', data: '{"name":"x"}' },
    { name: 'repo-main/bin/run', data: '#!/bin/sh\necho hi\n', mode: 0o755 },
    { name: 'repo-main/node_modules/pkg/cli.js', data: 'console.log(1)' },
    { name: 'repo-main/node_modules/.bin/pkg', type: 'symlink', linkname: '../pkg/cli.js' },
    { name: 'repo-main/repo-main/nested.txt', data: 'same name as the top folder' },
  ]);
  const s = await scratch(gzipSync(tarball), 'source.zip'); // the name lies: content decides
  try {
    const res = await extractArchive(s.file, s.dest, LIMITS);
    assert.equal(res.format, 'tar.gz');
    assert.equal(res.strippedPrefix, 'repo-main');
    assert.equal(await fs.readFile(path.join(s.dest, 'package.json'), 'utf8'), '{"name":"x"}');
    assert.equal((await fs.stat(path.join(s.dest, 'bin/run'))).mode & 0o777, 0o755);
    assert.equal(await fs.readlink(path.join(s.dest, 'node_modules/.bin/pkg')), '../pkg/cli.js');
    assert.equal(await fs.readFile(path.join(s.dest, 'node_modules/.bin/pkg'), 'utf8'), 'console.log(1)');
    assert.equal(await fs.readFile(path.join(s.dest, 'repo-main/nested.txt'), 'utf8'), 'same name as the top folder');
  } finally {
    await s.cleanup();
  }
});

test('plain tar with several top-level entries is not stripped', async () => {
  const s = await scratch(await makeTar([{ name: 'a.txt', data: 'A' }, { name: './src/b.txt', data: 'B' }]));
  try {
    const res = await extractArchive(s.file, s.dest, LIMITS);
    assert.equal(res.format, 'tar');
    assert.equal(res.strippedPrefix, null);
    assert.equal(await fs.readFile(path.join(s.dest, 'src/b.txt'), 'utf8'), 'B');
  } finally {
    await s.cleanup();
  }
});

test('zip: folders, deflated files, top folder stripped', async () => {
  const zip = makeZip([
    { name: 'app/' },
    { name: 'app/main.py', data: 'print("hi")\n'.repeat(100), deflate: true },
    { name: 'app/lib/util.py', data: 'x = 1\n' },
    { name: 'app/run.sh', data: '#!/bin/sh\n', mode: 0o100755 },
  ]);
  const s = await scratch(zip, 'source.tar');
  try {
    const res = await extractArchive(s.file, s.dest, LIMITS);
    assert.equal(res.format, 'zip');
    assert.equal(res.strippedPrefix, 'app');
    assert.equal(await fs.readFile(path.join(s.dest, 'main.py'), 'utf8'), 'print("hi")\n'.repeat(100));
    assert.equal(await fs.readFile(path.join(s.dest, 'lib/util.py'), 'utf8'), 'x = 1\n');
    assert.equal((await fs.stat(path.join(s.dest, 'run.sh'))).mode & 0o777, 0o755);
  } finally {
    await s.cleanup();
  }
});

test('entries escaping with .. or an absolute path are refused, naming the entry', async () => {
  await refused(await makeTar([{ name: 'ok.txt', data: 'x' }, { name: '../x', data: 'evil' }]), 'archive_unsafe_path', /"\.\.\/x"/);
  await refused(await makeTar([{ name: 'a/../../x', data: 'evil' }]), 'archive_unsafe_path', /a\/\.\.\/\.\.\/x/);
  await refused(await makeTar([{ name: '/etc/x', data: 'evil' }]), 'archive_unsafe_path', /"\/etc\/x" is an absolute path/);
  await refused(makeZip([{ name: '../x', data: 'evil' }]), 'archive_unsafe_path', /\.\.\/x/);
  await refused(makeZip([{ name: '/etc/x', data: 'evil' }]), 'archive_unsafe_path', /\/etc\/x/);
});

test('symlinks and hard links that lead outside are refused', async () => {
  await refused(await makeTar([{ name: 'passwd', type: 'symlink', linkname: '/etc/passwd' }]), 'archive_unsafe_path', /"passwd"/);
  await refused(await makeTar([{ name: 'a/up', type: 'symlink', linkname: '../../outside' }]), 'archive_unsafe_path', /"a\/up"/);
  // Each link alone stays inside; together the second one climbs out through the first.
  await refused(
    await makeTar([
      { name: 's/d', type: 'symlink', linkname: '..' },
      { name: 's/d/e', type: 'symlink', linkname: '../..' },
    ]),
    'archive_unsafe_path',
  );
  await refused(await makeTar([{ name: 'h', type: 'link', linkname: '/etc/passwd' }]), 'archive_unsafe_path', /\/etc\/passwd/);
  await refused(await makeTar([{ name: 'h', type: 'link', linkname: '../x' }]), 'archive_unsafe_path');
  await refused(makeZip([{ name: 'link', data: '/etc/shadow', mode: 0o120777 }]), 'archive_unsafe_path', /"link"/);
  await refused(makeZip([{ name: 'l', data: '../../..', mode: 0o120777 }]), 'archive_unsafe_path', /"l"/);
});

test('device files and FIFOs are refused', async () => {
  await refused(await makeTar([{ name: 'dev/sda', type: 'block-device' }]), 'archive_bad_entry', /"dev\/sda" is a device/);
  await refused(await makeTar([{ name: 'null', type: 'character-device' }]), 'archive_bad_entry', /"null" is a device/);
  await refused(await makeTar([{ name: 'pipe', type: 'fifo' }]), 'archive_bad_entry', /"pipe" is a named pipe/);
  await refused(makeZip([{ name: 'tty', mode: 0o020644 }]), 'archive_bad_entry', /"tty"/);
});

test('an archive over the size limit is refused with 413 before reading it', async () => {
  const err = await refused(await makeTar([{ name: 'a', data: 'x'.repeat(4096) }]), 'archive_too_large', /over the limit/, {
    ...LIMITS,
    maxArchiveBytes: 1024,
  });
  assert.equal(err.status, 413);
});

test('a gzip bomb is stopped as soon as it passes the expanded limit', async () => {
  // 1 GiB of zeros in a tar entry, as gzip members of 16 MiB each (gzip allows concatenated
  // members): about 1 MB on disk, made without deflating a gigabyte. The limit is 20 MB.
  const size = 1024 * 1024 * 1024;
  const header = tar.pack();
  const headerBytes: Buffer[] = [];
  header.on('data', (c) => headerBytes.push(c as Buffer));
  header.entry({ name: 'zeros', size });
  await new Promise((r) => setImmediate(r));
  header.destroy();
  const member = gzipSync(Buffer.alloc(16 * 1024 * 1024), { level: 9 });
  const parts = [gzipSync(Buffer.concat(headerBytes).subarray(0, 512))];
  for (let i = 0; i < size / (16 * 1024 * 1024); i++) parts.push(member);
  parts.push(gzipSync(Buffer.alloc(1024)));
  const bomb = Buffer.concat(parts);
  assert.ok(bomb.length < 1.5 * 1024 * 1024, `bomb is ${bomb.length} bytes`);
  const s = await scratch(bomb);
  try {
    const started = Date.now();
    const err = await extractArchive(s.file, s.dest, LIMITS).then(
      () => assert.fail('expected archive_bomb'),
      (e: unknown) => e as ArchiveError,
    );
    const took = Date.now() - started;
    assert.equal(err.code, 'archive_bomb', err.message);
    assert.match(err.message, /"zeros"/);
    assert.equal(err.status, 400);
    // Inflating the whole gigabyte takes seconds; stopping at 20 MB takes a small fraction.
    assert.ok(took < 1500, `took ${took} ms`);
    assert.deepEqual(await fs.readdir(s.dest), []);
  } finally {
    await s.cleanup();
  }
});

test('too many entries, and zip entries over the limit or lying about their size, are bombs', async () => {
  const many = await makeTar(Array.from({ length: 50 }, (_, i) => ({ name: `f${i}`, data: '' })));
  await refused(many, 'archive_bomb', /more than 20 entries/, { ...LIMITS, maxEntries: 20 });
  await refused(makeZip(Array.from({ length: 50 }, (_, i) => ({ name: `f${i}` }))), 'archive_bomb', /50 entries/, {
    ...LIMITS,
    maxEntries: 20,
  });
  const zeros = Buffer.alloc(30 * 1024 * 1024);
  await refused(makeZip([{ name: 'big', data: zeros, deflate: true }]), 'archive_bomb', /"big"/);
  await refused(makeZip([{ name: 'liar', data: zeros, deflate: true, declaredSize: 100 }]), 'archive_bomb', /declared size/);
});

test('something that is not an archive is invalid', async () => {
  await refused(Buffer.from('just some text, not an archive'), 'archive_invalid', /not a tar, tar.gz or zip/);
  await refused(gzipSync(Buffer.from('gzip, but no tar inside'.repeat(40))), 'archive_invalid');
  await refused(Buffer.from('BZh91AY&SY'), 'archive_invalid', /bzip2/);
});
