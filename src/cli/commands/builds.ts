import { resolve, basename } from 'node:path';
import { statSync } from 'node:fs';
import type { Command } from 'commander';
import { ApiError, type BerthClient } from '../../client/index.js';
import { client, globals, type GlobalOpts } from '../session.js';
import { details, emit, table } from '../output.js';
import { followBuild, Progress, type Build } from '../follow.js';
import { firstLine, releaseBudgetMs, releaseOfBuild, settleRelease, unsettled, type Release } from '../../client/releases.js';
import { listSourceFiles, packTarGz } from '../pack.js';

function appOf(app: string | undefined): string {
  const a = app ?? process.env.BERTH_APP;
  if (!a) throw new Error('name the app (an argument, --app <slug>, or BERTH_APP)');
  return a;
}

const commit = (b: Build) => (b.commit_sha ? `${b.commit_sha.slice(0, 7)} ${b.commit_message ?? ''}`.trim() : null);

export function buildDetails(b: Build): string {
  return details({ ...b, app: b.app.slug, commit: commit(b), duration: b.duration_s === null ? null : `${b.duration_s}s` }, [
    ['number', 'Build'],
    ['id', 'Id'],
    ['app', 'App'],
    ['status', 'Status'],
    ['message', 'Message'],
    ['queue_position', 'Queue position'],
    ['source', 'Source'],
    ['repo_url', 'Repository'],
    ['branch', 'Branch'],
    ['commit', 'Commit'],
    ['committer', 'Committer'],
    ['builder', 'Builder'],
    ['runtime', 'Runtime'],
    ['image', 'Image'],
    ['created_at', 'Created'],
    ['started_at', 'Started'],
    ['finished_at', 'Finished'],
    ['duration', 'Duration'],
  ]);
}

/** Follows a build to the end, printing its log (to stderr under --json, where stdout is the result). */
async function follow(c: BerthClient, g: GlobalOpts, buildId: string): Promise<Build> {
  const progress = new Progress(g.json ? process.stderr : process.stdout);
  progress.step('Waiting for a build slot');
  try {
    return await followBuild(c, buildId, (line) => progress.line(line));
  } finally {
    progress.stop();
  }
}

/**
 * After a deploy (an image's release, or a build that makes one): waits for that release to go live
 * or fail, then says where the app is; a failed build or release, or one still rolling out when the
 * wait ends, exits 1 with the reason.
 */
async function finish(c: BerthClient, g: GlobalOpts, app: string, build: Build | null, made: Release | null, wait: boolean) {
  if (build && build.status !== 'succeeded') {
    emit(g, { build }, () => `Build #${build.number} ${build.status}${build.message ? `: ${build.message}` : ''}`);
    process.exitCode = 1;
    return;
  }
  let a = await c.call('getApp', { params: { id: app } });
  if (build && !a.auto_deploy) {
    emit(g, { build, app: a }, () => `Built ${build.image}. Auto-deploy is off: deploy it with "berth deploy --app ${a.slug} --image ${build.image}".`);
    return;
  }
  let rel = made ?? (build ? await releaseOfBuild(c, app, build.id) : null);
  if (!rel) {
    emit(g, { build, app: a, release: null }, () => `Build #${build?.number} made no release (was auto-deploy turned off?): see "berth releases ${a.slug}".`);
    process.exitCode = 1;
    return;
  }
  const budget = releaseBudgetMs(rel);
  if (wait) {
    const progress = new Progress(g.json ? process.stderr : process.stdout);
    progress.step(`Rolling out v${rel.version} of ${a.slug}`);
    try {
      rel = await settleRelease(c, app, rel.version, budget);
    } finally {
      progress.stop();
    }
    a = await c.call('getApp', { params: { id: app } });
  }
  const r = rel;
  if (wait && r.status !== 'live') process.exitCode = 1;
  emit(g, { build, app: a, release: r }, () => {
    if (r.status === 'live') return `Deployed ${a.slug} (v${r.version}): ${a.url}`;
    if (!wait) return `Deploying v${r.version} of ${a.slug}: follow it with "berth releases ${a.slug}"`;
    if (unsettled(r)) return `v${r.version} of ${a.slug} is still ${r.status} after ${Math.round(budget / 1000)} s: follow it with "berth releases ${a.slug}"`;
    return `v${r.version} of ${a.slug} ${r.status}: ${firstLine(r.reason)}`;
  });
}

export function registerBuilds(program: Command) {
  const builds = program
    .command('builds')
    .description('list builds of an app (newest first, with queue positions); see the subcommands')
    .argument('[app]', 'app slug or id (default: BERTH_APP)')
    .option('--limit <n>', 'how many', '20')
    .action(async (app: string | undefined, o: { limit: string }, cmd: Command) => {
      const res = await client(cmd).call('listBuilds', { params: { id: appOf(app) }, query: { limit: Number(o.limit) || 20 } });
      emit(globals(cmd), res.items, () =>
        table(
          res.items.map((b) => ({ ...b, queue: b.queue_position, commit: commit(b)?.slice(0, 40) ?? null })),
          [['number', '#'], ['id', 'Id'], ['status', 'Status'], ['queue', 'Queue'], ['source', 'Source'], ['builder', 'Builder'], ['commit', 'Commit'], ['duration_s', 'Secs'], ['created_at', 'Created']],
        ),
      );
    });
  builds
    .command('info <build>')
    .description('show a build')
    .action(async (id: string, _o, cmd: Command) => {
      const b = await client(cmd).call('getBuild', { params: { id } });
      emit(globals(cmd), b, () => buildDetails(b));
    });
  builds
    .command('logs <build>')
    .description("print a build's log")
    .option('-f, --follow', 'keep printing until the build ends')
    .action(async (id: string, o: { follow?: boolean }, cmd: Command) => {
      const c = client(cmd);
      const g = globals(cmd);
      if (o.follow) {
        const b = await follow(c, g, id);
        if (g.json) emit(g, b, () => '');
        else process.stdout.write(`Build #${b.number} ${b.status}${b.message ? `: ${b.message}` : ''}\n`);
        if (b.status !== 'succeeded') process.exitCode = 1;
        return;
      }
      const log = await c.call('getBuildLog', { params: { id } });
      emit(g, log, () => log.lines.map((l) => l.line).join('\n'));
    });
  builds
    .command('cancel <build>')
    .description('cancel a waiting or running build')
    .action(async (id: string, _o, cmd: Command) => {
      const b = await client(cmd).call('cancelBuild', { params: { id } });
      emit(globals(cmd), b, () => `Canceled build #${b.number} of ${b.app.slug}.`);
    });
  builds
    .command('dockerfile <build>')
    .description('print the Dockerfile a build used (generated ones can be copied into your source)')
    .action(async (id: string, _o, cmd: Command) => {
      const d = await client(cmd).call('getBuildDockerfile', { params: { id } });
      emit(globals(cmd), d, () => d.dockerfile?.trimEnd() ?? '(not known yet: the build has not detected its source)');
    });

  program
    .command('deploy')
    .description('build the directory (default: here) and deploy it; or deploy an existing image with --image')
    .argument('[dir]', 'source directory', '.')
    .option('--app <app>', 'app slug or id (default: BERTH_APP)')
    .option('--image <image>', 'deploy this image instead of building')
    .option('--no-wait', 'do not wait for the rollout')
    .action(async (dir: string, o: { app?: string; image?: string; wait: boolean }, cmd: Command) => {
      const c = client(cmd);
      const g = globals(cmd);
      const app = appOf(o.app);
      if (o.image) {
        const rel = await c.call('deployApp', { params: { id: app }, body: { image_id: o.image } });
        return finish(c, g, app, null, rel, o.wait);
      }
      const root = resolve(dir);
      if (!statSync(root, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`${dir} is not a directory`);
      const say = (text: string) => (g.json ? process.stderr : process.stdout).write(`${text}\n`);
      const files = await listSourceFiles(root);
      if (files.length === 0) throw new Error(`nothing to deploy in ${dir}: every file is ignored`);
      const archive = await packTarGz(root, files);
      say(`-----> Packed ${files.length} files from ${basename(root)} (${(archive.length / 1024).toFixed(1)} KB)`);
      const build = await c.call('createBuild', { params: { id: app } });
      await upload(c, build.id, archive);
      say(`-----> Uploaded; build #${build.number} queued (${build.id})`);
      const done = await follow(c, g, build.id);
      return finish(c, g, app, done, null, o.wait);
    });
}

async function upload(c: BerthClient, buildId: string, archive: Buffer): Promise<void> {
  const res = await fetch(c.url(`/api/v1/builds/${encodeURIComponent(buildId)}/upload`), {
    method: 'POST',
    headers: { authorization: `Bearer ${c.opts.token}`, 'content-type': 'application/gzip' },
    body: new Uint8Array(archive),
    signal: AbortSignal.timeout(600_000),
  });
  if (!res.ok) {
    const body = (await res.json().catch(() => null)) as { error?: { code: string; message: string; details?: unknown } } | null;
    throw new ApiError(res.status, body?.error?.code ?? 'http_error', body?.error?.message ?? `upload failed with HTTP ${res.status}`, body?.error?.details);
  }
}
