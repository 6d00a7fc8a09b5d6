import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BerthClient } from '../../src/client/index.js';
import { listSourceFiles, packTarGz } from '../../src/cli/pack.js';
import { ROOT, sleep, type Bench } from '../support/context.js';
import { buildkitBuild, buildkitCacheIds, pruneBuildkitSince, runOwnCacheIds } from '../support/buildkit.js';
import { row, type Row } from '../support/report.js';

const FIXTURE = join(ROOT, 'test/fixtures/apps/node-web');

/**
 * A Node.js app with an npm dependency, built cold (its dependency layer not in the cache) and warm
 * (one source line changed, package.json untouched), through Berth (archive upload to build
 * succeeded) and by `docker build` of the very Dockerfile Berth generated, by hand, on the same
 * engine with its BuildKit (the generated download steps use cache mounts, which the classic builder
 * lacks; support/buildkit.ts). Each side gets its own copy of the app with its own package name, so
 * neither side's cold build finds the other's layers, and the baseline's cache mounts get ids of
 * this run; the stack image (node + npm) is cached for both.
 */
export async function build(b: Bench): Promise<Row[]> {
  const { dev } = await b.shared();
  const dirs: string[] = [];
  const cacheBefore = await buildkitCacheIds();
  try {
    const berthDir = await appCopy(b, 'berth', dirs);
    const baseDir = await appCopy(b, 'base', dirs);
    const slug = b.appName('build');
    // No auto-deploy: the figure is the build, and a rollout would compete with the next build.
    await dev.call('createApp', { body: { name: slug, project: 'bench', auto_deploy: false } });

    const berthCold = await berthBuild(dev, slug, berthDir);
    b.removeImageLater(`berth/${slug}:1`);
    const dockerfile = (await dev.call('getBuildDockerfile', { params: { id: berthCold.id } })).dockerfile;
    if (!dockerfile) throw new Error('Berth generated no Dockerfile for the Node.js app');
    await writeFile(join(baseDir, 'Dockerfile'), runOwnCacheIds(dockerfile, b.runId));
    await writeFile(join(baseDir, '.dockerignore'), ['.git', 'node_modules'].join('\n') + '\n');
    const baseCold = await dockerBuild(b, baseDir, `${slug}-base:1`);

    await changeOneLine(berthDir);
    await changeOneLine(baseDir);
    const berthWarm = await berthBuild(dev, slug, berthDir);
    b.removeImageLater(`berth/${slug}:2`);
    const baseWarm = await dockerBuild(b, baseDir, `${slug}-base:2`);
    await dev.call('deleteApp', { params: { id: slug } });

    const baselineName = 'docker build of the same Dockerfile (the engine\'s BuildKit)';
    return [
      row({ group: 'build', figure: 'build cold (npm layer not cached)', unit: 's', berth: berthCold.ms / 1000, baseline: baseCold / 1000, baselineName, better: 'lower', note: `Berth: create build + upload archive -> status succeeded (${berthCold.split})` }),
      row({ group: 'build', figure: 'build warm (one source line changed)', unit: 's', berth: berthWarm.ms / 1000, baseline: baseWarm / 1000, baselineName, better: 'lower', note: berthWarm.split }),
    ];
  } finally {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
    await pruneBuildkitSince(cacheBefore);
  }
}

async function appCopy(b: Bench, side: string, dirs: string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `berth-bench-${side}-`));
  dirs.push(dir);
  await cp(FIXTURE, dir, { recursive: true });
  // A name no earlier run used busts the cached `COPY package*.json` layer and so the npm install after it.
  for (const f of ['package.json', 'package-lock.json']) {
    const p = join(dir, f);
    await writeFile(p, (await readFile(p, 'utf8')).replaceAll('"name": "node-web"', `"name": "node-web-${side}-${b.runId}"`));
  }
  return dir;
}

async function changeOneLine(dir: string) {
  const p = join(dir, 'index.js');
  const src = await readFile(p, 'utf8');
  await writeFile(p, src.replace('hello from node', 'hello again from node'));
}

export async function berthBuild(dev: BerthClient, slug: string, dir: string): Promise<{ id: string; ms: number; split: string }> {
  const archive = await packTarGz(dir, await listSourceFiles(dir));
  const t0 = performance.now();
  const created = await dev.call('createBuild', { params: { id: slug } });
  const res = await fetch(dev.url(`/api/v1/builds/${created.id}/upload`), {
    method: 'POST',
    headers: { authorization: `Bearer ${dev.opts.token}`, 'content-type': 'application/gzip' },
    body: new Uint8Array(archive),
    signal: AbortSignal.timeout(60_000),
  });
  if (res.status !== 200) throw new Error(`upload: HTTP ${res.status} ${await res.text()}`);
  const uploadedAt = Date.now();
  const deadline = Date.now() + 600_000;
  for (;;) {
    const bld = await dev.call('getBuild', { params: { id: created.id } });
    if (bld.status === 'succeeded') {
      const ms = performance.now() - t0;
      // Where the time went: waiting in the queue, then the worker (extract, detect, docker build).
      const started = bld.started_at ? Date.parse(bld.started_at) : NaN;
      const split = `queue ${Math.max(0, (started - uploadedAt) / 1000).toFixed(1)} s, worker ${bld.duration_s?.toFixed(1)} s`;
      return { id: created.id, ms, split };
    }
    if (['failed', 'canceled'].includes(bld.status)) throw new Error(`build ${bld.status}: ${bld.message}`);
    if (Date.now() > deadline) throw new Error('build did not finish within 10 minutes');
    await sleep(50);
  }
}

async function dockerBuild(b: Bench, dir: string, tag: string): Promise<number> {
  b.removeImageLater(tag);
  return buildkitBuild(dir, tag);
}
