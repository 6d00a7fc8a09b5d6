import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import type { BerthClient } from '../../src/client/index.js';
import { run, runOk } from '../../src/lib/exec.js';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { BUILD_NETWORK, FENCE_CHAIN } from '../../src/imagebuild/fence.js';
import { checkDockerfile, DockerfileRefused } from '../../src/imagebuild/dockerfile-check.js';
import { startServer, type TestServer } from '../support/server.js';
import { ensureTestAppImage } from '../support/images.js';
import { dockerInspect } from '../support/docker.js';
import { uniqueSuffix, waitFor } from '../support/wait.js';
import { buildArchive, buildProcesses, dockerfileApp, logText, removeImages, waitBuild, type Build } from '../builds/helpers.js';
import { explained } from './helpers.js';

const BASE = process.env.BERTH_BASE_IMAGE ?? 'berth/base:bookworm';
const PIDS = 200;

/**
 * Builds cannot see other tenants (issue #18). Two users in two projects on one server: the victim
 * builds an image with a secret in it and runs an app; the attacker's builds try to start from that
 * image or copy out of it by every spelling, and their RUN steps try to reach the host, the control
 * plane, the victim's container, the engine's socket and a link-local address. Every target is on
 * this machine: the link-local one is a container on a 169.254.x network of its own, so nothing is
 * sent to a cloud metadata address. Each refusal has its control: the same target answers when the
 * fence is not in the way.
 */
describe('builds cannot see other tenants', () => {
  let s: TestServer;
  let victim: BerthClient;
  let attacker: BerthClient;
  const n = `${uniqueSuffix()}${Date.now().toString(36)}`;
  const victimSlug = `vict-${uniqueSuffix()}`;
  const victimApp = `victapp-${uniqueSuffix()}`;
  const attackerSlug = `attk-${uniqueSuffix()}`;
  const SECRET = `victim-secret-${n}`;
  const linkLocalNet = `berth-test-ll-${uniqueSuffix()}`;
  const linkLocalCtr = `berth-test-ll-${uniqueSuffix()}`;
  let victimImage: string;
  let victimImageId: string;
  let victimProject: string;
  let attackerProject: string;
  let victimIp: string;
  let listener: Server;
  let listenerPort: number;

  before(async () => {
    const appImage = await ensureTestAppImage(new DockerRuntime({}));
    s = await startServer({ env: { BERTH_BUILD_PIDS: String(PIDS), BERTH_BUILD_CONCURRENCY: '2' } });
    await explained(s.output, async () => {
      victim = await s.newUser('victim');
      attacker = await s.newUser('attacker');
      await victim.call('createApp', { body: { name: 'vict', slug: victimSlug, auto_deploy: false } });
      await attacker.call('createApp', { body: { name: 'attk', slug: attackerSlug, auto_deploy: false } });
      const built = await waitBuild(victim, (await buildArchive(victim, victimSlug, await dockerfileApp(`FROM ${BASE}\nRUN echo ${SECRET} > /secret.txt\n`))).id);
      assert.equal(built.status, 'succeeded', built.message ?? '');
      victimImage = built.image!;
      victimProject = (await victim.call('getApp', { params: { id: victimSlug } })).project.id;
      attackerProject = (await attacker.call('getApp', { params: { id: attackerSlug } })).project.id;
      victimImageId = (await dockerInspect(victimImage)).Id;

      // The victim's running app, on its project's network.
      await victim.call('createApp', { body: { name: 'victapp', slug: victimApp, auto_deploy: false, health_check: { path: '/health', timeout_s: 30, grace_s: 0 } } });
      await victim.call('deployApp', { params: { id: victimApp }, body: { image_id: appImage } });
      const ctr = await waitFor('the victim app to be healthy', async () => (await victim.call('listContainers', { query: { app: victimApp } })).items.find((c) => c.status === 'healthy'), { timeoutMs: 120_000 });
      const info = await dockerInspect(ctr.docker_id!);
      victimIp = Object.values(info.NetworkSettings.Networks as Record<string, { IPAddress: string }>)[0]!.IPAddress;

      // A listener on every host address, and a container answering on a link-local network.
      // A build step that gives up resets its connection: that must not be an uncaught error here.
      listener = createServer((sock) => sock.on('error', () => {}).end('host-listener\n'));
      await new Promise<void>((r) => listener.listen(0, '0.0.0.0', r));
      listenerPort = (listener.address() as { port: number }).port;
      await runOk('docker', ['network', 'create', '--subnet', '169.254.250.0/24', '--label', 'berth.test=builds-security', linkLocalNet], { timeoutMs: 30_000 });
      await runOk('docker', ['run', '-d', '--name', linkLocalCtr, '--network', linkLocalNet, '--ip', '169.254.250.10', '--label', 'berth.test=builds-security', '-e', 'PORT=8080', appImage], { timeoutMs: 60_000 });
    });
  });

  after(async () => {
    await run('docker', ['rm', '-f', linkLocalCtr], { timeoutMs: 30_000 });
    await run('docker', ['network', 'rm', linkLocalNet], { timeoutMs: 30_000 });
    listener?.close();
    await s?.destroy();
    await removeImages([victimSlug, attackerSlug]);
  });

  const attack = async (dockerfile: string): Promise<{ build: Build; log: string }> => {
    const b = await waitBuild(attacker, (await buildArchive(attacker, attackerSlug, await dockerfileApp(dockerfile))).id, 300_000);
    return { build: b, log: await logText(attacker, b.id) };
  };

  test("FROM or COPY --from another project's image fails, by name, tag, id, digest, ARG or transport, with a clear message", async () => {
    const hex = victimImageId.replace(/^sha256:/, '');
    const repo = victimImage.split(':')[0]!;
    const cases: { what: string; dockerfile: string; says: RegExp }[] = [
      { what: 'name:tag', dockerfile: `FROM ${victimImage}\nRUN cat /secret.txt\n`, says: /is not available to this build/ },
      { what: 'full id', dockerfile: `FROM ${hex}\nRUN cat /secret.txt\n`, says: /is not available to this build/ },
      { what: 'sha256: id', dockerfile: `FROM ${victimImageId}\nRUN cat /secret.txt\n`, says: /is not available to this build/ },
      { what: 'short id', dockerfile: `FROM ${hex.slice(0, 12)}\nRUN cat /secret.txt\n`, says: /is not available to this build/ },
      { what: 'digest', dockerfile: `FROM ${repo}@sha256:${hex}\nRUN cat /secret.txt\n`, says: /is not available to this build/ },
      { what: 'ARG', dockerfile: `ARG IMG=${victimImage}\nFROM \${IMG}\nRUN cat /secret.txt\n`, says: /is not available to this build/ },
      { what: 'COPY --from name', dockerfile: `FROM ${BASE}\nCOPY --from=${victimImage} /secret.txt /stolen.txt\nRUN cat /stolen.txt\n`, says: /COPY --from=.*no stage of this Dockerfile and no image available to this build/ },
      { what: 'COPY --from id', dockerfile: `FROM ${BASE}\nCOPY --from=${victimImageId} /secret.txt /stolen.txt\nRUN cat /stolen.txt\n`, says: /COPY --from=.*no stage of this Dockerfile and no image available to this build/ },
      { what: 'docker-daemon transport', dockerfile: `FROM docker-daemon:${victimImage}\nRUN cat /secret.txt\n`, says: /not through "docker-daemon:"/ },
      { what: 'transport via ARG', dockerfile: `ARG T=docker-daemon\nFROM \${T}:${victimImage}\nRUN cat /secret.txt\n`, says: /not through "docker-daemon:"/ },
      { what: 'COPY --from transport', dockerfile: `FROM ${BASE}\nCOPY --from=docker-daemon:${victimImage} /secret.txt /x\n`, says: /not through "docker-daemon:"/ },
      { what: 'containers-storage of the victim', dockerfile: `FROM containers-storage:${victimImage}\n`, says: /not through "containers-storage:"/ },
      { what: 'RUN --mount of the host', dockerfile: `FROM ${BASE}\nRUN --mount=type=bind,source=/,target=/host cat /host/etc/hostname\n`, says: /only cache mounts \(type=cache\) are supported/ },
      // buildah 1.28 would join this id to the attacker's cache directory and land in the victim's (CVE-2024-9675).
      {
        what: "a cache mount's id climbing to the victim's cache",
        dockerfile: `FROM ${BASE}\nRUN --mount=type=cache,id=../${victimProject}/buildah-cache/npm,target=/c cat /c/*\n`,
        says: /id must be a name/,
      },
      { what: 'a cache mount from a stage', dockerfile: `FROM ${BASE}\nRUN --mount=type=cache,from=${victimImage},target=/c cat /c/secret.txt\n`, says: /"from" is not supported/ },
    ];
    const results = await Promise.all(cases.map(async (c) => ({ c, ...(await attack(c.dockerfile)) })));
    for (const { c, build, log } of results) {
      assert.equal(build.status, 'failed', `${c.what}: ${build.status}\n${log}`);
      assert.match(build.message ?? '', c.says, `${c.what}: the build's message\n${log}`);
      assert.match(log, /-----> Build failed: /, c.what);
      assert.ok(!log.includes(SECRET), `${c.what}: the victim's secret is in the attacker's log`);
    }
    // The control: the same image is the victim's to build on.
    const own = await waitBuild(victim, (await buildArchive(victim, victimSlug, await dockerfileApp(`FROM ${victimImage}\nRUN cat /secret.txt\n`))).id);
    assert.equal(own.status, 'succeeded', own.message ?? '');
    assert.ok((await logText(victim, own.id)).includes(SECRET));
  });

  test("a build's download cache (RUN --mount=type=cache) is its project's: another project's builds neither read nor poison it", async () => {
    const CACHE_SECRET = `victim-cache-secret-${n}`;
    // The victim's build leaves a private file in its npm cache (as a private package tarball would be).
    const wrote = await waitBuild(
      victim,
      (await buildArchive(victim, victimSlug, await dockerfileApp(`FROM ${BASE}\nRUN --mount=type=cache,id=npm,target=/root/.npm echo ${CACHE_SECRET} > /root/.npm/private-${n}.txt && echo wrote-${n}\n`))).id,
    );
    assert.equal(wrote.status, 'succeeded', `${wrote.message}\n${await logText(victim, wrote.id)}`);

    // The attacker mounts the same cache by id and by target, tries to read it and plants a poisoned file.
    const mounts = '--mount=type=cache,id=npm,target=/root/.npm --mount=type=cache,target=/root/.npm2';
    const steal = await attack(
      `FROM ${BASE}\nRUN ${mounts} ls -la /root/.npm /root/.npm2; cat /root/.npm/private-${n}.txt /root/.npm2/private-${n}.txt 2>&1; ` +
        `echo poisoned-${n} > /root/.npm/poison-${n}.txt && echo planted-${n}\n`,
    );
    assert.equal(steal.build.status, 'succeeded', steal.log);
    assert.match(steal.log, new RegExp(`^planted-${n}$`, 'm'), 'the attacker writes to its own cache');
    assert.match(steal.log, new RegExp(`private-${n}.txt: No such file or directory`));
    assert.ok(!steal.log.includes(CACHE_SECRET), `the victim's cache is in the attacker's build:\n${steal.log}`);

    // The attacker's poison is real: its own next build finds it (the control: caches do persist).
    const own = await attack(`FROM ${BASE}\nRUN --mount=type=cache,id=npm,target=/root/.npm cat /root/.npm/poison-${n}.txt; echo own-check-${n}\n`);
    assert.match(own.log, new RegExp(`^poisoned-${n}$`, 'm'), own.log);

    // The victim's next build finds its own file and no poison.
    const check = await waitBuild(
      victim,
      (await buildArchive(victim, victimSlug, await dockerfileApp(
        `FROM ${BASE}\nRUN --mount=type=cache,id=npm,target=/root/.npm cat /root/.npm/private-${n}.txt; ` +
          `if [ -e /root/.npm/poison-${n}.txt ]; then echo "poison present"; else echo "poison absent"; fi\n`,
      ))).id,
    );
    const checkLog = await logText(victim, check.id);
    assert.equal(check.status, 'succeeded', checkLog);
    assert.ok(checkLog.includes(CACHE_SECRET), `the victim's cache persisted:\n${checkLog}`);
    assert.match(checkLog, /^poison absent$/m);

    // On disk: each project's files under its own directory, none in buildah's host-wide default.
    const caches = join(s.env.BERTH_BUILD_STORE || '/var/lib/berth-buildah', 'caches', s.instance);
    assert.ok(existsSync(join(caches, victimProject, 'buildah-cache', 'npm', `private-${n}.txt`)));
    assert.ok(existsSync(join(caches, attackerProject, 'buildah-cache', 'npm', `poison-${n}.txt`)));
    assert.ok(!existsSync(join(caches, attackerProject, 'buildah-cache', 'npm', `private-${n}.txt`)));
    assert.ok(!existsSync(`/var/tmp/buildah-cache/npm/poison-${n}.txt`) && !existsSync(`/var/tmp/buildah-cache/npm/private-${n}.txt`));
  });

  test('RUN steps reach the package registry, but not the host, the control plane, another project, the engine or link-local addresses', async () => {
    const gateway = (await runOk('docker', ['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Gateway}}', BUILD_NETWORK], { timeoutMs: 20_000 })).stdout.trim();
    // docker0 is down while no container uses it, and then missing from os.networkInterfaces().
    const docker0 = /inet ([0-9.]+)\//.exec((await runOk('ip', ['-4', '-o', 'addr', 'show', 'dev', 'docker0'], { timeoutMs: 10_000 })).stdout)?.[1];
    assert.ok(docker0, "the engine's default bridge has an address");
    const hostAddr = Object.values(networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal && !a.address.startsWith('172.'))?.address;
    assert.ok(hostAddr, 'the host has an address of its own');
    const cpPort = new URL(s.url).port;
    const targets: Record<string, string> = {
      'control-plane-gateway': `${gateway}:${cpPort}`,
      'control-plane-docker0': `${docker0}:${cpPort}`,
      'host-listener-gateway': `${gateway}:${listenerPort}`,
      'host-listener-docker0': `${docker0}:${listenerPort}`,
      'host-listener-own-address': `${hostAddr}:${listenerPort}`,
      'victim-app': `${victimIp}:8080`,
      'link-local': '169.254.250.10:8080',
    };
    // The controls: each target answers from where the fence does not apply.
    const control = await run(
      'docker',
      ['run', '--rm', BASE, 'bash', '-c', `timeout 5 bash -c 'echo > /dev/tcp/${docker0}/${listenerPort}' && echo reachable`],
      { timeoutMs: 60_000 },
    );
    assert.match(control.stdout, /reachable/, `a container on the default bridge reaches the host listener: ${control.stderr}`);
    for (const [name, addr] of Object.entries(targets).filter(([k]) => k === 'victim-app' || k === 'link-local')) {
      const [ip, port] = addr.split(':');
      const r = await run('bash', ['-c', 'timeout 5 bash -c "echo > /dev/tcp/$0/$1"', ip!, port!], { timeoutMs: 10_000 });
      assert.equal(r.code, 0, `the host reaches ${name} at ${addr}`);
    }

    const probes = Object.entries(targets)
      .map(([name, addr]) => {
        const [ip, port] = addr.split(':');
        return `if timeout 5 bash -c 'echo > /dev/tcp/${ip}/${port}' 2>/dev/null; then echo "probe ${name} open"; else echo "probe ${name} closed"; fi`;
      })
      .join('; ');
    const dockerfile = [
      `FROM ${BASE}`,
      `RUN ${probes}; ` +
        `if timeout 10 bash -c 'echo > /dev/tcp/registry.npmjs.org/443' 2>/dev/null; then echo "probe npm-registry open"; else echo "probe npm-registry closed"; fi; ` +
        `if [ -e /var/run/docker.sock ] || [ -e /run/docker.sock ]; then echo "probe docker-socket present"; else echo "probe docker-socket absent"; fi`,
    ].join('\n');
    const { build, log } = await attack(dockerfile);
    assert.equal(build.status, 'succeeded', `${build.message}\n${log}`);
    assert.match(log, /^probe npm-registry open$/m, 'the registry is reachable: the network works');
    for (const name of Object.keys(targets)) assert.match(log, new RegExp(`^probe ${name} closed$`, 'm'), `${name} (${targets[name]}) is refused\n${log}`);
    assert.match(log, /^probe docker-socket absent$/m);

    // The rules doing it: link-local and the private ranges are refused for the whole build network, only the resolver on port 53 passes.
    const chain = (await runOk('iptables', ['-w', '-S', FENCE_CHAIN], { timeoutMs: 20_000 })).stdout;
    for (const range of ['169.254.0.0/16', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16']) assert.ok(chain.includes(`-d ${range} -j REJECT`), `${range} is refused:\n${chain}`);
    assert.match((await runOk('iptables', ['-w', '-S', 'DOCKER-USER'], { timeoutMs: 20_000 })).stdout, new RegExp(`-i berth-build0 -j ${FENCE_CHAIN}`));
  });

  test('a RUN step as root has only the allowed capabilities, and a fork bomb stops at the pids limit', async () => {
    const caps = await attack(
      [
        `FROM ${BASE}`,
        'RUN grep CapBnd /proc/self/status; echo "uid $(id -u)"; ' +
          '(mknod /tmp/null-dev c 1 3 2>/dev/null && echo "cap mknod allowed") || echo "cap mknod refused"; ' +
          '(mount -t tmpfs none /mnt 2>/dev/null && echo "cap mount allowed") || echo "cap mount refused"; ' +
          '(chroot / true 2>/dev/null && echo "cap chroot allowed") || echo "cap chroot refused"; ' +
          '(chown 1234:1234 /tmp && echo "cap chown allowed") || echo "cap chown refused"',
      ].join('\n'),
    );
    assert.equal(caps.build.status, 'succeeded', caps.log);
    assert.match(caps.log, /^uid 0$/m);
    // CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID: 0xfb. The engine's default set (0xa80425fb) has MKNOD, NET_RAW, SYS_CHROOT and more.
    assert.match(caps.log, /^CapBnd:\s+00000000000000fb$/m);
    for (const cap of ['mknod', 'mount', 'chroot']) assert.match(caps.log, new RegExp(`^cap ${cap} refused$`, 'm'));
    assert.match(caps.log, /^cap chown allowed$/m, 'what package installs need is there');

    const bomb = await attack(`FROM ${BASE}\nRUN echo bomb-${n}; i=0; while [ $i -lt 5000 ]; do sleep 1199 & i=$((i+1)); done; echo "forked all"\n`);
    assert.equal(bomb.build.status, 'failed', bomb.log);
    // bash says "Cannot fork"; when the limit is reached by the runtime itself, runc says "resource temporarily unavailable".
    assert.match(bomb.log, /cannot fork|resource temporarily unavailable/i);
    assert.match(bomb.build.message ?? '', /limit on processes \(BERTH_BUILD_PIDS\)/, 'the build says why');
    assert.doesNotMatch(bomb.log, /^forked all$/m);
    await waitFor('no process of the bomb left', async () => (await buildProcesses('sleep 1199')).length === 0 || undefined, { timeoutMs: 30_000, intervalMs: 500 });
    assert.ok(!existsSync(`/sys/fs/cgroup/pids/berth-builds/${bomb.build.id}`) && !existsSync(`/sys/fs/cgroup/berth-builds/${bomb.build.id}`), "the build's cgroup is removed");
  });
});

/** The Dockerfile check on its own: the spellings a parser could miss, and what it must let through. */
describe('the Dockerfile check before a build', () => {
  const refused = (text: string, why: RegExp) => assert.throws(() => checkDockerfile(text), (e: Error) => e instanceof DockerfileRefused && why.test(e.message), text);
  test('transports are refused however they are spelled; RUN flags are refused', () => {
    refused('FROM docker-daemon:berth/x:1', /not through "docker-daemon:"/);
    refused('from oci-archive:/var/lib/berth/x.tar', /not through "oci-archive:"/);
    refused('FROM \\\n  dir:/etc', /not through "dir:"/);
    refused('# escape=`\nFROM `\n docker-daemon:berth/x:1', /not through "docker-daemon:"/);
    refused('ARG A=docker-daemon:berth/x:1\nFROM $A', /not through "docker-daemon:"/);
    refused('ARG A="docker-daemon"\nFROM ${A}:berth/x:1', /not through "docker-daemon:"/);
    refused('FROM ${NOPE:-containers-storage:[overlay@/var/lib/x]y}', /not an image reference|does not resolve/);
    refused('FROM ${UNSET}', /no global ARG with a default/);
    refused('FROM scratch\nCOPY --from=docker-daemon:berth/x:1 / /', /not through "docker-daemon:"/);
    refused('FROM scratch\nARG S=x\nCOPY --from=$S / /', /variable in --from/);
    refused('FROM scratch\nONBUILD COPY --from=docker-daemon:berth/x:1 / /', /not through/);
    refused('FROM scratch\nRUN --mount=type=cache,source=../../..,target=/c true', /RUN --mount is not supported/);
    refused('FROM scratch\nRUN --network=host true', /RUN --network is not supported/);
    refused('FROM scratch\nRUN \\\n --mount=type=bind,target=/h true', /RUN --mount is not supported/);
    // With buildah's per-project caches a cache mount passes, but not one that names another place.
    const withCaches = (text: string, why: RegExp) =>
      assert.throws(() => checkDockerfile(text, { cacheMounts: true }), (e: Error) => e instanceof DockerfileRefused && why.test(e.message), text);
    withCaches('FROM scratch\nRUN --mount=type=cache,source=../../..,target=/c true', /"source" is not supported/);
    withCaches('FROM scratch\nRUN \\\n --mount=type=bind,target=/h true', /only cache mounts/);
    withCaches('FROM scratch\nRUN --mount=type=cache,id=..,target=/c true', /id must be a name/);
    checkDockerfile('FROM scratch\nRUN --mount=type=cache,id=npm,target=/root/.npm true', { cacheMounts: true });
    // A locked cache's lock file sits inside the cache folder, where a build step can put a link out.
    withCaches('FROM scratch\nRUN --mount=type=cache,id=npm,target=/root/.npm,sharing=locked true', /sharing must be shared/);
    // Without an id the target names the folder: "/" would be the project's whole cache directory.
    withCaches('FROM scratch\nRUN --mount=type=cache,target=/ true', /folder below/);
    withCaches('FROM scratch\nRUN --mount=type=cache,target=/./ true', /folder below/);
  });
  test('a flag hidden from the check by a line buildah reads differently is refused', () => {
    const hidden = (text: string, why: RegExp) =>
      assert.throws(() => checkDockerfile(text, { cacheMounts: true }), (e: Error) => e instanceof DockerfileRefused && why.test(e.message), JSON.stringify(text));
    const escape = '--mount=type=cache,id=../../../../..,target=/h ls /h';
    // buildah skips a blank line inside a continuation; the flag is then the RUN's.
    hidden(`FROM scratch\nRUN \\\n\n${escape}\n`, /id must be a name/);
    hidden(`FROM scratch\nRUN \\\n   \n${escape}\n`, /id must be a name/);
    // A byte that is not UTF-8 (0xA0 is a space to buildah's parser), a vertical tab or form feed after the backslash.
    hidden(`FROM scratch\nRUN \ufffd${escape}\n`, /not UTF-8/);
    hidden(`FROM scratch\nRUN true \\\u000b\nRUN ${escape}\n`, /U\+000B/);
    hidden(`FROM scratch\nRUN true \\\f\nRUN ${escape}\n`, /U\+000C/);
    hidden(`FROM scratch\nRUN \u00a0${escape}\n`, /U\+00A0/);
    // An escape directive anywhere but the first line, or not exactly one character.
    hidden('# syntax=docker/dockerfile:1\n# escape=`\nFROM scratch\nRUN true\n', /first line/);
    hidden('# escape=`x\nFROM scratch\nRUN true\n', /first line/);
    // Whatever the reading, a --mount= the check did not admit as a flag is refused.
    hidden(`FROM scratch\n# RUN ${escape}\nRUN true\n`, /may appear only as flags/);
    hidden(`FROM scratch\nRUN echo ${escape}\n`, /may appear only as flags/);
  });
  test('ordinary Dockerfiles pass', () => {
    checkDockerfile('ARG V=20\nFROM node:${V}-bookworm AS build\nRUN npm ci\nFROM docker.io/library/debian:bookworm\nCOPY --from=build /app /app\nCOPY --from=0 /x /y\n');
    checkDockerfile('FROM berth/stack-node:bookworm\n# a comment\nRUN echo "--mount is only text here"\n');
    checkDockerfile('FROM registry.example.com:5000/team/app@sha256:' + 'a'.repeat(64) + '\n');
  });
});
