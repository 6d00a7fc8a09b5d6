import type { ControllerDeps } from '../deps.js';
import { appById } from '../../store/apps.js';
import { releaseById, releaseConfig } from '../../store/releases.js';
import * as runs from '../../store/runs.js';
import type { RunRow } from '../../store/runs.js';
import { LABEL } from '../../runtime/labels.js';
import { networkLabels, projectNetwork } from '../../domain/containers.js';
import { releaseSpec } from '../../domain/release-spec.js';
import { tell } from '../tell.js';

/** How often the output gathered so far is written for readers (the CLI's stream polls it). */
const FLUSH_MS = 200;
/** SIGTERM, then SIGKILL after this long, when a run outlives its timeout. */
const KILL_GRACE_S = 5;

/**
 * Runs one command in a container of its release: the release's image, config, volumes and
 * network, hardened like a replica, never restarted. Its output is written to the run as it
 * comes; it is killed after its timeout; the container is removed at the end. The row says
 * `running` before the engine is asked for anything: a crash in between is found on start.
 * Resolves with the finished row, or null when the control plane is stopping (the next start
 * marks the run failed and removes its container).
 */
export async function executeRun(d: ControllerDeps, run: RunRow, stopping: AbortSignal): Promise<RunRow | null> {
  // Claimed atomically (and fenced on the lease): a run is started by one control plane only.
  if (run.status === 'queued' && !(await runs.claimRun(d.db, run.id, d.fence))) return null;
  const app = await appById(d.db, run.app_id);
  const release = await releaseById(d.db, run.release_id);
  if (!app || !release) {
    await runs.finishRun(d.db, run.id, 'failed', null, 'the app or its release was deleted before the command started');
    return (await runs.runById(d.db, run.id)) ?? null;
  }
  const what = `${run.kind === 'run' ? 'one-off command' : run.kind === 'cron' ? 'scheduled command' : 'release command'} ${run.command.join(' ')}`;
  const said = (kind: string, message: string) => tell(d, { actor: { system: 'runs' }, project_id: app.project_id, app_id: app.id, kind, message, data: { run: run.id } });
  await said('run.started', `${what} started`);
  const cfg = releaseConfig(release);
  let output = '';
  let truncated = false;
  let dockerId: string | null = null;
  try {
    await d.networks.ensureNetwork(projectNetwork(app.project_id), networkLabels(d.instanceId, app.project_id));
    const spec = releaseSpec(d.secrets, d.instanceId, app, release, cfg, run.container_name, { [LABEL.run]: run.id, [LABEL.runApp]: app.id });
    const tty = run.tty === 1;
    dockerId = await d.runs.createContainer({ ...spec, cmd: run.command, restart: 'no', tty });
    await d.runs.startContainer(dockerId);

    let dirty = false;
    const flush = async () => {
      if (!dirty) return;
      dirty = false;
      await runs.setOutput(d.db, run.id, output);
    };
    const flusher = setInterval(() => void flush().catch((err) => d.log.warn({ err }, 'run output write failed')), FLUSH_MS);
    const logsDone = new AbortController();
    // A terminal's output is raw and goes to whoever is attached (/ws/runs/{id}/tty); it is not kept.
    const reading = (async () => {
      if (tty) return;
      for await (const l of d.runs.logs(dockerId!, { follow: true, signal: AbortSignal.any([logsDone.signal, stopping]) })) {
        if (truncated) continue;
        if (output.length + l.line.length + 1 > runs.MAX_OUTPUT_CHARS) {
          output += '[berth: output truncated: only the first 1 MB is kept]\n';
          truncated = true;
        } else output += `${l.line}\n`;
        dirty = true;
      }
    })().catch((err) => d.log.warn({ err, run: run.id }, 'run output stream failed'));

    const deadline = AbortSignal.timeout(run.timeout_s * 1000);
    let code: number;
    let reason: string | null = null;
    try {
      code = await d.runs.waitContainer(dockerId, AbortSignal.any([deadline, stopping]));
    } catch (err) {
      if (stopping.aborted) {
        clearInterval(flusher);
        logsDone.abort();
        return null;
      }
      if (!deadline.aborted) throw err;
      await d.runs.stopContainer(dockerId, KILL_GRACE_S);
      code = (await d.runs.inspectContainer(dockerId))?.exitCode ?? 137;
      reason = `killed after its timeout of ${run.timeout_s} s`;
    }
    // The log stream ends with the container; a stream that lags is cut after a moment.
    const lag = setTimeout(() => logsDone.abort(), 5000);
    await reading;
    clearTimeout(lag);
    clearInterval(flusher);
    await runs.setOutput(d.db, run.id, output);
    const ok = code === 0 && !reason;
    await runs.finishRun(d.db, run.id, ok ? 'succeeded' : 'failed', code, reason ?? (ok ? null : `exited with code ${code}`));
  } catch (err) {
    if (stopping.aborted) return null;
    await runs.setOutput(d.db, run.id, output).catch(() => {});
    await runs.finishRun(d.db, run.id, 'failed', null, `could not run: ${(err as Error).message}`);
  } finally {
    if (dockerId && !stopping.aborted) await d.runs.removeContainer(dockerId).catch((err) => d.log.warn({ err }, 'run container removal failed'));
  }
  const done = (await runs.runById(d.db, run.id)) ?? null;
  if (done) await said(`run.${done.status}`, `${what} ${done.status}${done.reason ? `: ${done.reason}` : ''}`);
  return done;
}

/** The last lines of a run's output, for a release's failure reason. */
export const outputTail = (output: string, n = 20) => output.trimEnd().split('\n').slice(-n).filter((l) => l !== '');
