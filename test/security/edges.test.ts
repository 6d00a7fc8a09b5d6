import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { existsSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import type { BerthClient } from '../../src/client/index.js';
import { startServer, type TestServer } from '../support/server.js';
import { tarGz, upload } from '../builds/helpers.js';
import { makeZip } from '../builder/helpers.js';
import { checkAnswer, send } from './helpers.js';

/**
 * Hostile input that is not about values: bodies over the limit, clients that never finish,
 * broken archives and hostile git input through the API. What test/builds/api.test.ts already
 * refuses (traversal, absolute paths, links out, garbage, an archive over the limit, option-like
 * URLs and branches) is not repeated here.
 */
describe('oversized bodies, slow clients, malformed archives, hostile git input', () => {
  let s: TestServer;
  let dev: BerthClient;

  before(async () => {
    // A small expanded-source limit, so a modest bomb crosses it.
    s = await startServer({ env: { BERTH_BUILD_MAX_SOURCE_MB: '8', BERTH_BUILD_MAX_UPLOAD_BYTES: String(4 * 1024 * 1024) } });
    dev = await s.newUser('dev');
    await dev.call('createApp', { body: { name: 'edge' } });
  });
  after(async () => {
    await s?.destroy();
  });

  /** A raw connection that has sent `head` and keeps the request open. */
  const openRaw = (head: string) =>
    new Promise<net.Socket>((resolve, reject) => {
      const u = new URL(s.url);
      const sock = net.connect(Number(u.port), u.hostname, () => {
        sock.write(head);
        resolve(sock);
      });
      sock.on('error', reject);
    });

  test('a body over the limit is a JSON 413, declared or chunked, without reading a declared huge body', async () => {
    const big = JSON.stringify({ name: 'x'.repeat(1024 * 1024) });
    const r = await send(s.url, 'POST', '/api/v1/projects', { token: dev.opts.token, body: big, headers: { 'content-type': 'application/json' } });
    assert.equal(r.status, 413);
    checkAnswer(r, 'declared');
    assert.equal(r.json.error.code, 'payload_too_large');

    // Chunked: no Content-Length, the server has to count.
    const chunked = await fetch(new URL('/api/v1/projects', s.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${dev.opts.token}`, 'content-type': 'application/json' },
      body: new Blob([big]).stream(),
      duplex: 'half',
      signal: AbortSignal.timeout(15_000),
    } as RequestInit);
    assert.equal(chunked.status, 413);
    assert.equal(((await chunked.json()) as { error: { code: string } }).error.code, 'payload_too_large');

    // A client that claims 10 GB and sends nothing more is answered at once, for JSON and for uploads.
    const b = await dev.call('createBuild', { params: { id: 'edge' } });
    for (const [path, type] of [['/api/v1/projects', 'application/json'], [`/api/v1/builds/${b.id}/upload`, 'application/gzip']]) {
      const sock = await openRaw(`POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${dev.opts.token}\r\nContent-Type: ${type}\r\nContent-Length: 10737418240\r\n\r\n{`);
      const answer = await new Promise<string>((resolve, reject) => {
        let got = '';
        const timer = setTimeout(() => reject(new Error(`${path}: no answer to a declared 10 GB body within 5 s: ${got}`)), 5000);
        sock.on('data', (d) => {
          got += d;
          if (got.includes('\r\n\r\n')) {
            clearTimeout(timer);
            resolve(got);
          }
        });
      });
      sock.destroy();
      assert.match(answer, /^HTTP\/1\.1 413/, path);
    }
    assert.equal((await dev.call('getBuild', { params: { id: b.id } })).status, 'pending');
    await dev.call('cancelBuild', { params: { id: b.id } });
  });

  test('slow and stalled clients do not hold up anyone else; a dribbled request still gets its answer', async () => {
    const token = dev.opts.token!;
    const slow: net.Socket[] = [];
    try {
      // 30 bodies that stall after their headers, 10 header sections that never end (slowloris), 5 stalled uploads.
      for (let i = 0; i < 30; i++) {
        slow.push(await openRaw(`POST /api/v1/projects HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"na`));
      }
      for (let i = 0; i < 10; i++) slow.push(await openRaw(`GET /api/v1/apps HTTP/1.1\r\nHost: x\r\nX-Slow-${i}: `));
      for (let i = 0; i < 5; i++) {
        const b = await dev.call('createBuild', { params: { id: 'edge' } });
        slow.push(await openRaw(`POST /api/v1/builds/${b.id}/upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/gzip\r\nContent-Length: 100000\r\n\r\n\x1f\x8b`));
      }
      // A dribbled request: one byte every 50 ms.
      const body = '{"name":"dribbled"}';
      const dribbler = await openRaw(`POST /api/v1/projects HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`);
      let dribbled = '';
      dribbler.on('data', (d) => (dribbled += d));
      const dribbling = (async () => {
        for (const ch of body) {
          dribbler.write(ch);
          await new Promise((r) => setTimeout(r, 50));
        }
      })();

      // Meanwhile other clients are served promptly, one after the other and many at once.
      const started = Date.now();
      for (let i = 0; i < 20; i++) {
        const t0 = Date.now();
        const h = await send(s.url, 'GET', '/healthz', { timeoutMs: 2000 });
        assert.equal(h.status, 200);
        const l = await send(s.url, 'GET', '/api/v1/apps', { token, timeoutMs: 2000 });
        assert.equal(l.status, 200);
        assert.ok(Date.now() - t0 < 1000, `a request took ${Date.now() - t0} ms while slow clients were connected`);
      }
      const many = await Promise.all(Array.from({ length: 50 }, () => send(s.url, 'GET', '/api/v1/apps', { token, timeoutMs: 5000 })));
      assert.ok(many.every((r) => r.status === 200));
      assert.ok(Date.now() - started < 15_000);

      await dribbling;
      await new Promise<void>((resolve) => (dribbler.readableEnded ? resolve() : dribbler.once('end', () => resolve())));
      assert.match(dribbled, /^HTTP\/1\.1 201/, dribbled.slice(0, 200));
    } finally {
      for (const sock of slow) sock.destroy();
    }
    // Clients that vanish mid-request leave the server healthy and the builds waiting for a good upload.
    assert.equal((await send(s.url, 'GET', '/healthz')).status, 200);
    const pending = (await dev.call('listBuilds', { params: { id: 'edge' } })).items.filter((b) => b.status === 'pending');
    assert.ok(pending.length >= 5);
    for (const b of pending) await dev.call('cancelBuild', { params: { id: b.id } });
  });

  test('malformed archives are a 4xx with the JSON error shape and leave the build waiting', async () => {
    const good = await tarGz([{ name: 'Dockerfile', body: 'FROM scratch\n' }]);
    const cases: [string, Buffer, string][] = [
      ['empty body', Buffer.alloc(0), 'application/gzip'],
      ['truncated gzip', good.subarray(0, Math.floor(good.length / 2)), 'application/gzip'],
      ['gzip of garbage', gzipSync(Buffer.from('this is not a tar archive at all'.repeat(100))), 'application/gzip'],
      ['gzip magic only', Buffer.from([0x1f, 0x8b, 0x08]), 'application/gzip'],
      ['zip magic then garbage', Buffer.concat([Buffer.from('PK\x03\x04'), Buffer.alloc(200, 0xff)]), 'application/zip'],
      ['zip traversal', makeZip([{ name: 'Dockerfile', data: 'FROM scratch\n' }, { name: '../../escape', data: 'x' }]), 'application/zip'],
      ['zip absolute', makeZip([{ name: '/etc/cron.d/x', data: 'x' }]), 'application/zip'],
      ['zip symlink out', makeZip([{ name: 'l', data: '/etc/shadow', mode: 0o120777 }]), 'application/zip'],
      ['zip device', makeZip([{ name: 'dev', data: '', mode: 0o020644 }]), 'application/zip'],
      ['zip bomb (deflated zeros past the source limit)', makeZip([{ name: 'big', data: Buffer.alloc(16 * 1024 * 1024), deflate: true }]), 'application/zip'],
      ['zip lying about its size', makeZip([{ name: 'liar', data: Buffer.alloc(16 * 1024 * 1024), deflate: true, declaredSize: 10 }]), 'application/zip'],
      ['tar.gz hard link out', hardLinkTar(), 'application/gzip'],
      ['tar.gz bomb past the source limit', gzipSync(Buffer.concat([tarHeader('zeros', 16 * 1024 * 1024), Buffer.alloc(16 * 1024 * 1024)])), 'application/gzip'],
    ];
    for (const [what, body, type] of cases) {
      const b = await dev.call('createBuild', { params: { id: 'edge' } });
      const up = await upload(dev, b.id, body, type);
      assert.ok(up.status >= 400 && up.status < 500, `${what}: ${up.status} ${JSON.stringify(up.json)}`);
      assert.equal(typeof up.json?.error?.code, 'string', `${what}: ${JSON.stringify(up.json)}`);
      assert.equal((await dev.call('getBuild', { params: { id: b.id } })).status, 'pending', `${what}: the build still waits`);
      await dev.call('cancelBuild', { params: { id: b.id } });
    }
    assert.equal((await send(s.url, 'GET', '/healthz')).status, 200);
  });

  test('hostile git URLs and branch names are refused before anything runs', async () => {
    const marker = `/tmp/berth-pwned-${process.pid}`;
    const urls = [
      'fd::3',
      `ext::sh -c touch% ${marker}`,
      `ssh://-oProxyCommand=touch%20${marker}/x`,
      `git@-oProxyCommand=touch ${marker}:repo`,
      'https://example.com/r.git\r\nX: y',
      'https://example.com/r.git\u0000',
      `https://example.com/${'a'.repeat(2100)}.git`,
      'file://localhost/etc',
      'FiLe:///etc',
      '\\\\server\\share\\repo',
      'http://[::1/repo',
      'https://exa mple.com/r.git',
      'transport::https://example.com/r.git',
    ];
    for (const repo_url of urls) {
      const r = await send(s.url, 'POST', '/api/v1/apps/edge/builds/git', { token: dev.opts.token, body: JSON.stringify({ repo_url }), headers: { 'content-type': 'application/json' } });
      assert.equal(r.status, 400, `${JSON.stringify(repo_url)}: ${r.text.slice(0, 200)}`);
      checkAnswer(r, repo_url);
    }
    const branches = ['-u', '--upload-pack=x', 'a\nb', 'a\u0000b', 'HEAD@{1}', '@{-1}', 'a\\b', 'x'.repeat(256), '.', '..', 'refs/../x', 'a\u007fb', 'main;touch x', '$(touch x)', '`x`'];
    for (const branch of branches) {
      const r = await send(s.url, 'POST', '/api/v1/apps/edge/builds/git', { token: dev.opts.token, body: JSON.stringify({ repo_url: 'https://example.com/r.git', branch }), headers: { 'content-type': 'application/json' } });
      if (r.status === 201) {
        // Characters git allows in a ref ($, ;, `) are stored as data, never run by a shell.
        assert.match(branch, /^[^\s\\~^:?*[\u0000-\u001f\u007f]+$/, `${JSON.stringify(branch)} was accepted`);
        await dev.call('cancelBuild', { params: { id: r.json.id } });
        continue;
      }
      assert.equal(r.status, 400, `${JSON.stringify(branch)}: ${r.text.slice(0, 200)}`);
      checkAnswer(r, branch);
    }
    assert.ok(!existsSync(marker), 'a hostile URL ran a command');
  });
});

/** A ustar header for one regular file of `size` bytes (the data follows, unpadded when it is a multiple of 512). */
function tarHeader(name: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0);
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  h.write('00000000000\0', 136);
  h.write('0', 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  return withChecksum(h);
}

/** Writes the header's checksum, computed with the checksum field itself as blanks. */
function withChecksum(h: Buffer): Buffer {
  h.write('        ', 148);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}

/** A tar.gz whose only entry is a hard link to /etc/passwd. */
function hardLinkTar(): Buffer {
  const h = tarHeader('passwd', 0);
  h.write('1', 156);
  h.write('/etc/passwd', 157);
  return gzipSync(Buffer.concat([withChecksum(h), Buffer.alloc(1024)]));
}
