import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { DockerRuntime, modemOptions } from '../../src/runtime/docker.js';
import { hardenedCreateOptions, helperCreateOptions, isRootUser } from '../../src/runtime/hardening.js';
import { LogDemuxer, MAX_LINE_BYTES, withoutResent } from '../../src/runtime/log-stream.js';
import type { ContainerSpec } from '../../src/runtime/types.js';
import { volumeJobSpec } from '../../src/domain/volume-jobs.js';

test('DOCKER_HOST forms: unix socket, tcp, https; anything else is refused', () => {
  assert.deepEqual(modemOptions(undefined), { socketPath: '/var/run/docker.sock' });
  assert.deepEqual(modemOptions('unix:///run/user/1000/docker.sock'), { socketPath: '/run/user/1000/docker.sock' });
  assert.deepEqual(modemOptions('/tmp/d.sock'), { socketPath: '/tmp/d.sock' });
  assert.deepEqual(modemOptions('tcp://10.0.0.5:2375'), { host: '10.0.0.5', port: 2375, protocol: 'http' });
  assert.deepEqual(modemOptions('tcp://docker'), { host: 'docker', port: 2375, protocol: 'http' });
  assert.deepEqual(modemOptions('https://docker:2376'), { host: 'docker', port: 2376, protocol: 'https' });
  assert.throws(() => modemOptions('ssh://me@host'), /unsupported DOCKER_HOST/);
});

test('every engine call has a deadline: an engine that never answers fails the call', async () => {
  const sockets: Socket[] = [];
  const server = createServer((s) => sockets.push(s.on('error', () => {}))); // accepts, never replies; the client's abort may reset
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  try {
    const runtime = new DockerRuntime({ dockerHost: `tcp://127.0.0.1:${port}`, callTimeoutMs: 300 });
    const started = Date.now();
    await assert.rejects(runtime.ping(), /docker ping timed out after 300 ms/);
    await assert.rejects(runtime.inspectContainer('x'), /timed out/);
    assert.ok(Date.now() - started < 3000);
  } finally {
    for (const s of sockets) s.destroy();
    server.close();
  }
});

test('a refused connection is an error, not a hang', async () => {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  server.close();
  await assert.rejects(new DockerRuntime({ dockerHost: `tcp://127.0.0.1:${port}` }).ping(), /ECONNREFUSED/);
});

test('only uid 0 counts as root, however it is written', () => {
  for (const u of ['', 'root', '0', '0:0', 'root:root', '0:1000', ' root ', '0000', '00:00']) assert.equal(isRootUser(u), true, u);
  for (const u of ['1000', 'node', '1000:0', 'app:app', '65534:65534']) assert.equal(isRootUser(u), false, u);
});

test('the create body ignores anything a spec smuggles in beyond its fields', () => {
  const spec = {
    name: 'x',
    image: 'img',
    env: { A: '1' },
    labels: { 'berth.managed': 'false', 'berth.app': 'a' },
    network: 'n',
    aliases: ['a'],
    memoryMb: 64,
    cpu: 0,
    Privileged: true,
    HostConfig: { Binds: ['/:/host'] },
  } as ContainerSpec;
  const body = hardenedCreateOptions(spec, 'root') as { HostConfig: Record<string, unknown>; Labels: Record<string, string>; User: string };
  assert.equal(body.User, '65534:65534');
  assert.equal(body.HostConfig.Privileged, false);
  assert.deepEqual(body.HostConfig.Binds, []);
  assert.equal(body.HostConfig.NanoCpus, undefined, 'cpu 0 means no CPU limit');
  assert.equal(body.Labels['berth.managed'], 'true');
  assert.equal('Privileged' in body, false);
});

test("a container's identity labels are the ones Berth chose, never its image's", () => {
  // An image Berth built carries the app's label: a command run in it must not pass for a replica.
  const spec = { name: 'run-1', image: 'berth/app:3', env: {}, labels: { 'berth.instance': 'me', 'berth.run': 'run_1' }, network: 'n', aliases: [], memoryMb: 64, cpu: 0 } as ContainerSpec;
  const image = { 'berth.instance': 'me', 'berth.app': 'app_1', 'berth.build': 'bld_1', 'org.opencontainers.image.title': 'kept' };
  const body = hardenedCreateOptions(spec, 'app', image) as { Labels: Record<string, string> };
  assert.deepEqual(body.Labels, { 'berth.app': '', 'berth.build': '', 'berth.instance': 'me', 'berth.run': 'run_1', 'berth.managed': 'true' });
});

test('a volume backup helper: root with only the file capabilities it names, no network, the volume read-only, never a host path', () => {
  const backup = volumeJobSpec('inst', { id: 'vol_abc', project_id: 'prj_1' }, 'bkp_1', '/tmp/berth-backup.tar', false);
  const body = helperCreateOptions(backup, 'berth/base:bookworm') as { User: string; NetworkDisabled: boolean; Cmd: string[]; HostConfig: Record<string, unknown> };
  assert.equal(body.User, '0:0');
  assert.equal(body.NetworkDisabled, true);
  assert.equal(body.HostConfig.NetworkMode, 'none');
  assert.deepEqual(body.HostConfig.CapDrop, ['ALL']);
  assert.deepEqual(body.HostConfig.CapAdd, ['DAC_READ_SEARCH']);
  assert.deepEqual(body.HostConfig.SecurityOpt, ['no-new-privileges:true']);
  assert.deepEqual(body.HostConfig.Binds, []);
  assert.deepEqual(body.HostConfig.Mounts, [{ Type: 'volume', Source: 'berth-vol-abc', Target: '/volume', ReadOnly: true, VolumeOptions: { NoCopy: true } }]);
  assert.equal(body.Cmd.at(-1), '/tmp/berth-backup.tar', 'the file is an argument, not part of the script');
  const restore = helperCreateOptions(volumeJobSpec('inst', { id: 'vol_abc', project_id: 'prj_1' }, 'rst_1', '/tmp/berth-backup.tar', true), 'berth/base:bookworm') as { HostConfig: { Mounts: { ReadOnly: boolean }[]; CapAdd: string[] } };
  assert.equal(restore.HostConfig.Mounts[0]!.ReadOnly, false);
  assert.deepEqual(restore.HostConfig.CapAdd, ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID']);
  assert.throws(() => helperCreateOptions({ ...backup, mounts: [{ volume: '/etc', path: '/volume', labels: {}, readOnly: true }] }, 'x'), /not a named volume/);
});

test('log frames are split into lines whatever the chunking', () => {
  const frame = (stream: number, text: string | Buffer) => {
    const payload = Buffer.isBuffer(text) ? text : Buffer.from(text);
    const head = Buffer.alloc(8);
    head[0] = stream;
    head.writeUInt32BE(payload.length, 4);
    return Buffer.concat([head, payload]);
  };
  const all = Buffer.concat([
    frame(1, '2026-01-01T00:00:00.000000001Z hello\n'),
    frame(2, '2026-01-01T00:00:00.000000002Z oops é\n'),
    // A long line spans frames, here with a two-byte character cut in half.
    frame(1, '2026-01-01T00:00:00.000000003Z part'),
    frame(1, Buffer.from([0xc3])),
    frame(1, Buffer.concat([Buffer.from([0xa9]), Buffer.from('ial\n')])),
    frame(1, '2026-01-01T00:00:00.000000004Z no newline at end'),
  ]);
  for (const size of [1, 3, 7, 8, 9, all.length]) {
    const demux = new LogDemuxer();
    const out = [];
    for (let i = 0; i < all.length; i += size) out.push(...demux.push(all.subarray(i, i + size)));
    out.push(...demux.end());
    assert.deepEqual(
      out,
      [
        { stream: 'stdout', time: '2026-01-01T00:00:00.000000001Z', line: 'hello' },
        { stream: 'stderr', time: '2026-01-01T00:00:00.000000002Z', line: 'oops é' },
        { stream: 'stdout', time: '2026-01-01T00:00:00.000000003Z', line: 'partéial' },
        { stream: 'stdout', time: '2026-01-01T00:00:00.000000004Z', line: 'no newline at end' },
      ],
      `chunk size ${size}`);
  }
});

test('output that never ends its line is passed on in pieces of 64 KB, not held whole', () => {
  const head = Buffer.alloc(8);
  head[0] = 1;
  const chunk = Buffer.alloc(40 * 1024 + 7, 'x');
  head.writeUInt32BE(chunk.length, 4);
  const demux = new LogDemuxer();
  const out = [];
  // 10 MB on stdout without a newline.
  for (let i = 0; i < 256; i++) out.push(...demux.push(Buffer.concat([head, chunk])));
  assert.equal(out.length, Math.floor((256 * chunk.length) / MAX_LINE_BYTES));
  assert.ok(out.every((l) => l.line.length === MAX_LINE_BYTES));
  const rest = demux.end();
  assert.equal(rest.length, 1);
  assert.equal(rest[0]!.line.length, (256 * chunk.length) % MAX_LINE_BYTES);
});

test('a follow that steps back in time (the engine re-sending after a log rotation) yields each line once', async () => {
  const at = (ns: string, stream: 'stdout' | 'stderr', line: string) => ({ stream, time: `2026-01-01T00:00:01${ns}Z`, line });
  const sent = [
    at('.1', 'stdout', 'a'),
    at('.2', 'stdout', 'b'),
    // stderr is stamped by its own reader: older than stdout's last line, yet new.
    at('.15', 'stderr', 'err'),
    at('.3', 'stdout', 'c'),
    // The re-sent block (fractions as the engine writes them: trailing zeros trimmed), then new lines.
    at('.2', 'stdout', 'b'),
    at('.3', 'stdout', 'c'),
    at('.300000001', 'stdout', 'd'),
    { stream: 'stdout' as const, time: '', line: 'no timestamp' },
    at('', 'stdout', 'e'),
  ];
  async function* source() {
    yield* sent;
  }
  const got = [];
  for await (const l of withoutResent(source())) got.push(`${l.stream} ${l.line}`);
  assert.deepEqual(got, ['stdout a', 'stdout b', 'stderr err', 'stdout c', 'stdout d', 'stdout no timestamp']);
});

test("dockerode's ssh2 and gRPC load only when first used, and then work", async () => {
  const { createRequire } = await import('node:module');
  await import('../../src/runtime/engine-api.js');
  const fromDockerode = createRequire(createRequire(import.meta.url).resolve('dockerode'));
  const fromModem = createRequire(fromDockerode.resolve('docker-modem'));
  const ssh2Path = fromModem.resolve('ssh2');
  const stand = fromModem.cache[ssh2Path]?.exports as { Client: new () => { connect: unknown; end(): void } };
  assert.ok(stand, 'the stand-in sits in the module cache');
  assert.equal(Object.keys(stand).join(), 'Client', 'the real ssh2 is not loaded yet');
  const ssh2Dir = ssh2Path.slice(0, ssh2Path.lastIndexOf('/lib/'));
  assert.ok(!Object.keys(fromModem.cache).some((p) => p.startsWith(ssh2Dir) && p !== ssh2Path), 'none of ssh2 files is loaded');
  const grpcPath = fromDockerode.resolve('@grpc/grpc-js');
  assert.ok(!Object.keys(fromDockerode.cache).some((p) => p.includes('/@grpc/grpc-js/') && p !== grpcPath), 'none of gRPC is loaded');
  const client = new stand.Client();
  assert.equal(typeof client.connect, 'function', 'first use gives a real ssh2 Client');
  client.end();
  assert.notEqual(fromModem.cache[ssh2Path]?.exports, stand, 'the real module now sits in the cache');
});
