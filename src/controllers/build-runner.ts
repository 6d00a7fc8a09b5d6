import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { AppNudge, ControllerDeps } from './deps.js';
import { bareRepo, buildDir, type BuildSettings } from '../config.js';
import { now } from '../store/db.js';
import { buildById, lastLogSeq, transition, updateBuild, type BuildRow } from '../store/builds.js';
import { appById, type AppRow } from '../store/apps.js';
import { LABEL } from '../runtime/labels.js';
import { recordImageOwner } from '../store/image-owners.js';
import { createRelease } from '../domain/releases.js';
import { MAX_PROCESS_TYPES, formationProcesses } from '../domain/processes.js';
import { encodeProcesses } from '../store/formation.js';
import type { Actor } from '../domain/events.js';
import { runOk } from '../lib/exec.js';
import { cloneRepo, redact, detect, extractArchive, prepareBuildContext, chooseNode, chooseVersion, checkManager, pythonInstaller, bundlerInstaller, DetectionError, SourceError, ArchiveError } from '../builder/index.js';
import { readSourceFile } from '../builder/sourcefs.js';
import { BuildLogWriter } from './build-log.js';
import { ImageBuildFailed, type ImageBuilder } from '../imagebuild/types.js';
import { VendorAccountError, vendorCredentials } from './vendor-credentials.js';

/** A failure whose message is meant for the user as is (no stack, no "Error:"). */
class BuildFailure extends Error {}

const step = (log: BuildLogWriter, text: string) => log.write(`-----> ${text}`);

/**
 * Runs one build that has been claimed (status running): fetch the source, detect, write the
 * Dockerfile, build the image, record the outcome, and deploy it when the app asks for that.
 * Whatever happens, its working directory is removed. A failed build never touches releases.
 */
export async function runBuild(ctx: ControllerDeps, apps: AppNudge, builder: ImageBuilder, build: BuildRow, signal: AbortSignal): Promise<void> {
  const settings = ctx.config.build;
  const started = Date.now();
  const dir = buildDir(ctx.config.dataDir, build.id);
  const src = join(dir, 'src');
  const log = new BuildLogWriter(ctx.db, ctx.buildLogs, build.id, await lastLogSeq(ctx.db, build.id), settings.maxLogLines, (err) =>
    ctx.log.warn({ err, build: build.id }, 'build log write failed'),
  );
  const app = await appById(ctx.db, build.app_id);
  const left = () => settings.timeoutMs - (Date.now() - started);
  // A build's events are its starter's (a push, an API call); a webhook's build is the loop's own.
  const actor: Actor = build.created_by ? { user: build.created_by } : { system: 'builds' };
  const event = (kind: string, message: string, data: Record<string, unknown> = {}) =>
    app
      ? ctx.events
          .record({ project_id: app.project_id, app_id: app.id, kind, message, data: { build: build.number, build_id: build.id, ...data }, actor })
          .catch((err) => ctx.log.warn({ err }, 'event record failed'))
      : Promise.resolve();

  try {
    if (!app) throw new BuildFailure('the app was deleted');
    step(log, `Build #${build.number} of ${app.slug} started`);
    await event('build.started', `build #${build.number} started`);
    await fetchSource(ctx, settings, build, src, log, signal, left);

    const detection = await detect(src);
    step(log, `Detected ${detection.reason}`);
    // The package manager that installs and why, for the log and the build's runtime.
    let installs: string | null = null;
    const node = detection.node ? chooseNode(detection.node.request, settings.nodeLines, settings.stacks.node) : null;
    if (node) {
      checkManager(node, detection.node!.manager);
      installs = detection.node!.manager === 'npm' ? null : `installing with ${detection.node!.manager === 'pnpm' ? 'pnpm' : 'Yarn'}`;
      step(log, `Using ${node.why}${installs ? `, ${installs}` : ''}`);
      detection.reason += `; ${node.why}`;
    }
    const lang = detection.language && detection.language !== 'node' ? detection.language : null;
    const chosen = lang ? chooseVersion(lang, detection[lang]?.request ?? null, settings.languageLines[lang], settings.stacks[lang]) : null;
    if (chosen) {
      step(log, `Using ${chosen.why}`);
      detection.reason += `; ${chosen.why}`;
      // Which package manager installs, at which version and why; a stack without it fails the build here.
      installs = detection.python ? pythonInstaller(detection.python, chosen.line) : detection.ruby ? bundlerInstaller(detection.ruby, chosen.line) : null;
      if (installs) step(log, installs);
    }
    const prepared = await prepareBuildContext(src, detection, {
      stackImage: node?.image ?? chosen?.image ?? (detection.language ? settings.stacks[detection.language] : ''),
      runtimeImage: settings.runtimeImage,
      cacheMounts: builder.cacheMounts,
    });
    const dockerfile = prepared.content ?? (await readSourceFile(src, prepared.dockerfile));
    const { processes, skipped } = formationProcesses(detection.processes);
    await updateBuild(ctx.db, build.id, {
      builder: detection.builder,
      runtime: runtimeText(node?.why ?? chosen?.why ?? null, installs),
      dockerfile,
      procfile_release: detection.processes.release ?? null,
      procfile_processes: encodeProcesses(processes),
    });
    if (Object.keys(processes).length) step(log, `Process types besides web: ${Object.keys(processes).join(', ')} (scale them with berth ps:scale)`);
    if (skipped.length) step(log, `Procfile lines left out (names of 1 to 30 letters, digits, - or _; at most ${MAX_PROCESS_TYPES} types): ${skipped.join(', ')}`);
    if (prepared.generated) {
      step(log, `Generated a Dockerfile for ${detection.builder} (see: berth builds dockerfile ${build.id})`);
    } else {
      step(log, 'Using the Dockerfile from the source');
    }

    // The builder is handed only a Dockerfile read here (inside the source, no link out): the text it checks is the one it builds.
    if (dockerfile === null) throw new BuildFailure(`the Dockerfile ${prepared.dockerfile} cannot be read (missing, a link out of the source, or over 1 MB)`);
    step(log, `Building image ${build.image}`);
    if (left() <= 0) throw new BuildFailure(`timed out after ${Math.round(settings.timeoutMs / 1000)} s`);
    const built = await builder.build({
      buildId: build.id,
      projectId: app.project_id,
      contextDir: src,
      dockerfile: prepared.dockerfile,
      dockerfileText: dockerfile,
      tag: build.image,
      labels: { [LABEL.instance]: ctx.instanceId, [LABEL.app]: app.id, [LABEL.build]: build.id },
      memoryMb: settings.memoryMb,
      pidsLimit: settings.pidsLimit,
      timeoutMs: left(),
      signal,
      onLine: (line) => log.write(line),
    });
    // The image is this project's: its apps may deploy it (by name or by id), no other project may.
    await recordImageOwner(ctx.db, { project_id: app.project_id, image: build.image, image_id: built.imageId, app_id: app.id, source: 'build' });
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    step(log, `Build succeeded in ${secs} s: ${build.image}`);
    await log.close();
    if (!(await transition(ctx.db, build.id, ['running'], { status: 'succeeded', message: `built ${build.image} in ${secs} s`, finished_at: now() }))) {
      return; // canceled at the last moment: the image stays unused
    }
    await event('build.succeeded', `build #${build.number} succeeded: ${build.image}`, { image: build.image });
    ctx.buildLogs.notify(build.id);
    await deploy(ctx, apps, build, app);
  } catch (err) {
    const message = failureMessage(err, signal, settings);
    if (signal.aborted) step(log, signal.reason === 'shutdown' ? `Build interrupted: ${message}` : 'Build canceled');
    else step(log, `Build failed: ${message}`);
    await log.close();
    const status = signal.aborted && signal.reason !== 'shutdown' ? 'canceled' : 'failed';
    await transition(ctx.db, build.id, ['running'], { status, message, finished_at: now() });
    const final = await buildById(ctx.db, build.id);
    if (final?.status === 'canceled') await event('build.canceled', `build #${build.number} canceled`);
    else await event('build.failed', `build #${build.number} failed: ${message}`);
    ctx.buildLogs.notify(build.id);
  } finally {
    await fs.rm(dir, { recursive: true, force: true }).catch(() => {});
  }
}

/** A refused clone says what to do about it: add an account, or check the one in use. */
function authHint(err: unknown, withAccount: boolean): unknown {
  if (!(err instanceof SourceError) || !/Authentication failed|could not read Username|terminal prompts disabled|\b(401|403)\b/.test(err.reason)) return err;
  const hint = withAccount
    ? 'the repository refused the vendor account: check its token and its access to this repository'
    : 'the repository needs credentials: add a vendor account (berth vendors add) and name it in the app\'s source (berth source set --vendor)';
  return new BuildFailure(`${err.reason} (${hint})`);
}

function failureMessage(err: unknown, signal: AbortSignal, settings: BuildSettings): string {
  if (signal.aborted) return signal.reason === 'shutdown' ? 'interrupted by a control-plane restart' : 'canceled';
  if (err instanceof BuildFailure || err instanceof DetectionError || err instanceof ArchiveError || err instanceof VendorAccountError || err instanceof ImageBuildFailed) return err.message;
  if (err instanceof SourceError) return err.reason;
  const m = err instanceof Error ? err.message : String(err);
  if (/timed out/.test(m)) return `timed out after ${Math.round(settings.timeoutMs / 1000)} s`;
  return m.replace(/^build failed: /, '');
}

async function fetchSource(
  ctx: ControllerDeps,
  settings: BuildSettings,
  build: BuildRow,
  src: string,
  log: BuildLogWriter,
  signal: AbortSignal,
  left: () => number,
): Promise<void> {
  if (build.source === 'archive') {
    step(log, 'Using the uploaded source');
    return;
  }
  if (build.source === 'git') {
    const branch = build.branch ?? 'main';
    // A webhook build names the pushed commit: build exactly that, even if the branch moved on since.
    const ref = build.commit_sha ?? branch;
    const credentials = await vendorCredentials(ctx, build);
    step(log, `Fetching ${redact(build.repo_url!)} (${ref === branch ? branch : `${branch} at ${ref.slice(0, 7)}`})${credentials ? ` with the ${credentials.vendor} account` : ''}`);
    await fs.rm(src, { recursive: true, force: true });
    const c = await cloneRepo(build.repo_url!, ref, src, {
      timeoutMs: Math.max(1000, Math.min(settings.cloneTimeoutMs, left())),
      signal,
      onLine: (line) => log.write(line),
      credentials,
      egress: ctx.config.egressAllow,
    }).catch((err: unknown) => {
      throw authHint(err, !!credentials);
    });
    await updateBuild(ctx.db, build.id, { commit_sha: c.commit, commit_message: c.message, committer: c.committer });
    step(log, `Commit ${c.commit.slice(0, 7)}: ${c.message}`);
    return;
  }
  if (build.source === 'push') {
    // git archive + the archive extractor: the pushed tree passes the same path and link checks as an upload.
    step(log, `Checking out ${build.commit_sha!.slice(0, 7)}: ${build.commit_message ?? ''}`);
    const tarFile = join(buildDir(ctx.config.dataDir, build.id), 'source.tar');
    await fs.mkdir(buildDir(ctx.config.dataDir, build.id), { recursive: true });
    await runOk('git', ['--git-dir', bareRepo(ctx.config.dataDir, build.app_id), 'archive', '--format=tar', '-o', tarFile, build.commit_sha!], {
      timeoutMs: Math.max(1000, Math.min(settings.cloneTimeoutMs, left())),
      signal,
    });
    await fs.rm(src, { recursive: true, force: true });
    await extractArchive(tarFile, src, settings.archive);
    await fs.rm(tarFile, { force: true });
    return;
  }
  throw new BuildFailure(`builds from source "${build.source}" cannot run`);
}

/** Makes the new image the app's next release; the app controller rolls it out. */
async function deploy(ctx: ControllerDeps, apps: AppNudge, build: BuildRow, app: AppRow): Promise<void> {
  const fresh = await appById(ctx.db, app.id);
  if (!fresh || !fresh.auto_deploy) return;
  const fresher = await buildById(ctx.db, build.id);
  const sha = fresher?.commit_sha ? ` (${fresher.commit_sha.slice(0, 7)})` : '';
  const release = await createRelease(ctx.db, ctx.events, fresh, {
    image: build.image,
    description: `Build #${build.number}${sha}`,
    buildId: build.id,
    userId: build.created_by,
  });
  await updateBuild(ctx.db, build.id, { release_id: release.id });
  apps.nudge(app.id);
}

/** The build's runtime as `berth builds info` shows it: the line and why, then the installer's line. */
function runtimeText(why: string | null, installs: string | null): string | null {
  if (!why) return null;
  return installs ? `${why}; ${installs.charAt(0).toLowerCase()}${installs.slice(1)}` : why;
}
