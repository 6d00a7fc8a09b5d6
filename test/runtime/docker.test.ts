import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { run } from '../../src/lib/exec.js';
import { DockerRuntime } from '../../src/runtime/docker.js';
import type { ContainerSpec, RuntimeEvent } from '../../src/runtime/types.js';
import { dockerInspect, getJson, removeLabelled, startApp } from '../support/docker.js';
import { buildFrom } from '../support/build.js';
import { ensureTestAppImage } from '../support/images.js';
import { uniqueSuffix, waitFor } from '../support/wait.js';

const runtime = new DockerRuntime();
const runId = uniqueSuffix();
const runLabels = { 'berth.test.run': runId };
const network = `berth-test-${runId}`;
let image = '';
let n = 0;

function spec(overrides: Partial<ContainerSpec> = {}): ContainerSpec {
  n += 1;
  return {
    name: `berth-test-${runId}-${n}`,
    image,
    env: { GREETING: 'hello from env' },
    labels: { ...runLabels, 'berth.app': 'web' },
    network,
    aliases: ['web'],
    memoryMb: 128,
    cpu: 0.5,
    ...overrides,
  };
}

before(async () => {
  await runtime.ping();
  image = await ensureTestAppImage(runtime);
  await runtime.ensureNetwork(network, runLabels);
});

after(async () => {
  await removeLabelled(runtime, runLabels);
  await runtime.removeNetwork(network);
});

describe('networks', () => {
  test('ensureNetwork and removeNetwork are idempotent and make a labelled user bridge', async () => {
    const name = `berth-test-net-${uniqueSuffix()}`;
    await runtime.ensureNetwork(name, { 'berth.project': 'p1' });
    await Promise.all([runtime.ensureNetwork(name, { 'berth.project': 'p1' }), runtime.ensureNetwork(name, { 'berth.project': 'p1' })]);
    const ls = await run('docker', ['network', 'ls', '--filter', `name=^${name}$`, '--format', '{{.ID}}'], { timeoutMs: 10_000 });
    assert.equal(ls.stdout.trim().split('\n').length, 1, 'exactly one network of that name');
    const net = await dockerInspect(name);
    assert.equal(net.Driver, 'bridge');
    assert.equal(net.Labels['berth.project'], 'p1');
    assert.equal(net.Labels['berth.managed'], 'true');
    await runtime.removeNetwork(name);
    await runtime.removeNetwork(name);
    const gone = await run('docker', ['network', 'inspect', name], { timeoutMs: 10_000 });
    assert.notEqual(gone.code, 0);
  });
});

describe('containers', () => {
  test('a started container answers HTTP on its network address with its env', async () => {
    const { id, ip } = await startApp(runtime, spec());
    const { status, body } = await waitFor('HTTP 200', () => getJson(`http://${ip}:8080/`));
    assert.equal(status, 200);
    assert.equal(body.env.GREETING, 'hello from env');
    assert.equal(body.hostname, id.slice(0, 12));
    const info = await runtime.inspectContainer(id);
    assert.equal(info?.state, 'running');
    assert.equal(info?.labels['berth.managed'], 'true');
    assert.equal(info?.labels['berth.app'], 'web');
  });

  test('hardening holds whatever the spec, as docker inspect and the kernel report it', async () => {
    const { id, ip } = await startApp(runtime, spec({ memoryMb: 96, cpu: 0.25 }));
    const c = await dockerInspect(id);
    const h = c.HostConfig;
    assert.equal(c.Config.User, '65534:65534');
    assert.deepEqual(h.CapDrop, ['ALL']);
    assert.ok(!h.CapAdd || h.CapAdd.length === 0);
    assert.ok(h.SecurityOpt.includes('no-new-privileges:true'));
    assert.equal(h.Privileged, false);
    assert.equal(h.Memory, 96 * 1024 * 1024);
    assert.equal(h.MemorySwap, h.Memory, 'no swap beyond the memory limit');
    assert.equal(h.PidsLimit, 256);
    assert.equal(h.NanoCpus, 250_000_000);
    assert.equal(h.PublishAllPorts, false);
    assert.deepEqual(h.PortBindings ?? {}, {});
    assert.deepEqual(c.NetworkSettings.Ports ?? {}, Object.fromEntries(Object.keys(c.NetworkSettings.Ports ?? {}).map((p) => [p, null])), 'no published ports');
    assert.ok(!h.Binds || h.Binds.length === 0, 'no binds');
    assert.deepEqual(c.Mounts, [], 'no mounts at all, so no host path and no docker.sock');
    assert.ok(!JSON.stringify(c).includes('docker.sock'));
    assert.equal(h.Init, true);
    assert.equal(h.RestartPolicy.Name, 'unless-stopped');
    assert.equal(h.LogConfig.Type, 'json-file');
    assert.equal(h.LogConfig.Config['max-size'], '10m');
    assert.equal(h.LogConfig.Config['max-file'], '3');
    assert.equal(h.NetworkMode, network);
    assert.ok(c.NetworkSettings.Networks[network].Aliases.includes('web'));

    const { body } = await waitFor('HTTP 200', () => getJson(`http://${ip}:8080/`));
    assert.equal(body.uid, 65534);
    assert.equal(body.gid, 65534);
    assert.equal(body.status.CapEff, '0000000000000000', 'no effective capabilities');
    assert.equal(body.status.CapBnd, '0000000000000000', 'no capabilities to regain');
    assert.equal(body.status.NoNewPrivs, '1');
  });

  test('an image that names a non-root user keeps it; one that names root does not', async () => {
    const named = await buildFrom(runtime, image, 'USER 1234:1234');
    const root = await buildFrom(runtime, image, 'USER 0:0');
    try {
      const a = await startApp(runtime, spec({ image: named }));
      const b = await startApp(runtime, spec({ image: root }));
      assert.equal((await dockerInspect(a.id)).Config.User, '1234:1234');
      assert.equal((await dockerInspect(b.id)).Config.User, '65534:65534');
      const ua = await waitFor('HTTP 200', () => getJson(`http://${a.ip}:8080/`));
      assert.equal(ua.body.uid, 1234);
      await runtime.removeContainer(a.id);
      await runtime.removeContainer(b.id);
    } finally {
      await runtime.removeImage(named);
      await runtime.removeImage(root);
    }
  });

  test('a missing image or a spec without a memory limit is refused', async () => {
    await assert.rejects(runtime.createContainer(spec({ image: `berth-test/none:${runId}` })), /not on the engine/);
    await assert.rejects(runtime.createContainer(spec({ memoryMb: 0 })), /memoryMb/);
  });

  test('stop finishes in-flight requests (SIGTERM drain) and stop/remove are idempotent', async () => {
    const { id, ip } = await startApp(runtime, spec());
    await waitFor('HTTP 200', () => getJson(`http://${ip}:8080/health`));
    const slow = getJson(`http://${ip}:8080/slow?ms=1500`, 10_000);
    await waitFor('the slow request to arrive', async () => {
      for await (const l of runtime.logs(id, {})) if (l.line === 'GET /slow') return true;
      return undefined;
    });
    const started = Date.now();
    await runtime.stopContainer(id, 10);
    const stopMs = Date.now() - started;
    const res = await slow;
    assert.equal(res.status, 200, 'the in-flight request was answered');
    assert.ok(stopMs < 8000, `stopped by the app's own exit, not the kill timeout (${stopMs} ms)`);
    const info = await runtime.inspectContainer(id);
    assert.equal(info?.state, 'exited');
    assert.equal(info?.exitCode, 0);
    assert.ok(info?.finishedAt);

    await runtime.stopContainer(id, 1);
    await runtime.removeContainer(id);
    await runtime.removeContainer(id);
    await runtime.stopContainer(id, 1);
    assert.equal(await runtime.inspectContainer(id), null);
  });

  test('listContainers matches all the given labels, running or not', async () => {
    const tag = uniqueSuffix();
    const a = await runtime.createContainer(spec({ labels: { ...runLabels, 'berth.list': tag, 'berth.replica': '1' } }));
    const b = await runtime.createContainer(spec({ labels: { ...runLabels, 'berth.list': tag, 'berth.replica': '2' } }));
    await runtime.startContainer(a);
    const all = await runtime.listContainers({ 'berth.list': tag });
    assert.deepEqual(all.map((c) => c.id).sort(), [a, b].sort());
    assert.deepEqual(Object.fromEntries(all.map((c) => [c.id, c.state])), { [a]: 'running', [b]: 'created' });
    const one = await runtime.listContainers({ 'berth.list': tag, 'berth.replica': '2' });
    assert.deepEqual(one.map((c) => c.id), [b]);
    assert.deepEqual(await runtime.listContainers({ 'berth.list': `${tag}-none` }), []);
  });
});

describe('logs and events', () => {
  test('logs return what the app printed, on stdout and stderr, with timestamps', async () => {
    const { id, ip } = await startApp(runtime, spec());
    await waitFor('HTTP 200', () => getJson(`http://${ip}:8080/hello`));
    const lines = await waitFor('the request in the logs', async () => {
      const got = [];
      for await (const l of runtime.logs(id, {})) got.push(l);
      return got.some((l) => l.line === 'GET /hello') ? got : undefined;
    });
    assert.equal(lines[0].line, 'listening on 8080');
    assert.equal(lines[0].stream, 'stdout');
    assert.ok(!Number.isNaN(Date.parse(lines[0].time)), `timestamp ${lines[0].time}`);
    const tail = [];
    for await (const l of runtime.logs(id, { tail: 1 })) tail.push(l.line);
    assert.deepEqual(tail, ['GET /hello']);

    // Follow: a line printed after the call arrives; aborting ends the iteration.
    const ac = new AbortController();
    const seen: string[] = [];
    const following = (async () => {
      // From a second ago rather than tail 0: the follow request may connect after /crash was logged.
      for await (const l of runtime.logs(id, { follow: true, since: Math.floor(Date.now() / 1000) - 1, signal: ac.signal })) {
        seen.push(`${l.stream} ${l.line}`);
        // stdout and stderr are separate pipes: their relative order is not guaranteed.
        if (seen.includes('stdout GET /crash') && seen.includes('stderr crashing as asked')) ac.abort();
      }
    })();
    await getJson(`http://${ip}:8080/crash`);
    await following;
    assert.deepEqual(seen.filter((l) => l.includes('crash')).sort(), ['stderr crashing as asked', 'stdout GET /crash']);
  });

  test('following a log across a rotation sends every line once (100,000 lines in one burst)', async () => {
    // ~10.5 MB of json-file log: the engine rotates at 10 MB in the middle of the burst, and Docker
    // 20.10's follow then re-sends the lines of the new file (5,452 of them in a measurement).
    const script = `require('node:http').createServer((q, r) => {
      if (q.url === '/spam') { let s = ''; for (let i = 1; i <= 100000; i++) s += 'L' + i + ' <b>x</b>\\n'; process.stdout.write(s); }
      if (q.url === '/done') console.log('done');
      r.end('ok');
    }).listen(8080, () => console.log('ready'));`;
    const { id, ip } = await startApp(runtime, spec({ cmd: ['node', '-e', script] }));
    const ac = new AbortController();
    const counts = new Map<string, number>();
    let ready!: () => void;
    const isReady = new Promise<void>((r) => (ready = r));
    const following = (async () => {
      for await (const l of runtime.logs(id, { follow: true, signal: ac.signal })) {
        counts.set(l.line, (counts.get(l.line) ?? 0) + 1);
        if (l.line === 'ready') ready();
        if (l.line === 'done') ac.abort();
      }
    })();
    await isReady;
    assert.equal((await fetch(`http://${ip}:8080/spam`, { signal: AbortSignal.timeout(30_000) })).status, 200);
    await waitFor('the last line', async () => counts.has('L100000 <b>x</b>') || undefined, { timeoutMs: 60_000 });
    // A line logged after the burst: whatever the engine re-sends of the burst comes before it.
    assert.equal((await fetch(`http://${ip}:8080/done`, { signal: AbortSignal.timeout(10_000) })).status, 200);
    await following;
    const files = await run('sh', ['-c', 'ls "$(dirname "$1")" | grep -c json.log', 'sh', (await dockerInspect(id)).LogPath], { timeoutMs: 10_000 });
    assert.equal(files.stdout.trim(), '2', 'the log was rotated during the burst');
    const twice = [...counts].filter(([, n]) => n > 1).map(([line]) => line);
    assert.deepEqual(twice.slice(0, 5), [], `${twice.length} lines sent more than once`);
    assert.equal([...counts.keys()].filter((l) => /^L\d+ /.test(l)).length, 100000);
  });

  test('stats: CPU and memory of a running container from one engine sample; null once it stops or is gone', async () => {
    // Busy on purpose, under a limit of half a core: CPU has a figure to show, and a ceiling.
    const id = await runtime.createContainer(spec({ cpu: 0.5, memoryMb: 96, cmd: ['node', '-e', 'const b = []; for (let i = 0; i < 40; i++) b.push(Buffer.alloc(1 << 20, 1)); for (;;) {}'] }));
    await runtime.startContainer(id);
    const use = await waitFor('a busy sample', async () => {
      const s = await runtime.stats(id);
      return s && s.cpuPercent > 5 && s.memoryMb > 40 ? s : undefined;
    });
    assert.ok(use.cpuPercent <= 60, `held to half a core: ${use.cpuPercent}%`);
    assert.ok(use.memoryMb < 96, `under its limit: ${use.memoryMb} MB`);
    await runtime.stopContainer(id, 1);
    assert.equal(await runtime.stats(id), null, 'not running');
    await runtime.removeContainer(id);
    assert.equal(await runtime.stats(id), null, 'gone');
  });

  test('follow ends by itself when the container stops', async () => {
    const { id, ip } = await startApp(runtime, spec());
    await waitFor('HTTP 200', () => getJson(`http://${ip}:8080/`));
    const following = (async () => {
      const got: string[] = [];
      for await (const l of runtime.logs(id, { follow: true })) got.push(l.line);
      return got;
    })();
    await runtime.stopContainer(id, 10);
    const got = await following;
    assert.ok(got.includes('drained, exiting'), got.join('\n'));
  });

  test('events report start and die with exit codes, and the restart policy brings a crashed app back', async () => {
    const labels = { ...runLabels, 'berth.events': uniqueSuffix() };
    const ac = new AbortController();
    const events: RuntimeEvent[] = [];
    const stream = runtime.events(labels, ac.signal);
    const collecting = (async () => {
      for await (const e of stream) events.push(e);
    })();
    try {
      const { id, ip } = await startApp(runtime, spec({ labels }));
      await waitFor('HTTP 200', () => getJson(`http://${ip}:8080/`));
      await getJson(`http://${ip}:8080/crash`);
      await waitFor('die with 3, then a restart', () => {
        const i = events.findIndex((e) => e.action === 'die' && e.exitCode === 3);
        return i >= 0 && events.slice(i).some((e) => e.action === 'start');
      });
      const info = await waitFor('the restart count', async () => {
        const c = await runtime.inspectContainer(id);
        return c && c.restartCount >= 1 && c.state === 'running' ? c : undefined;
      });
      assert.equal(info.restartCount, 1);
      // Running is not ready: stop before the app installs its SIGTERM handler and it dies by the signal.
      await waitFor('HTTP 200 after the restart', () => getJson(`http://${info.addresses[network]}:8080/`));
      await runtime.stopContainer(id, 10);
      await waitFor('die with 0', () => events.some((e) => e.action === 'die' && e.exitCode === 0));
      assert.equal(events[0].action, 'create');
      assert.ok(events.every((e) => e.containerId === id && e.labels['berth.events'] === labels['berth.events']));
      assert.ok(events.every((e) => !('image' in e.labels) && !('exitCode' in e.labels)));
    } finally {
      ac.abort();
      await collecting;
    }
  });
});
