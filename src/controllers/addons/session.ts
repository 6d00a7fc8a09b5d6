import { StringDecoder } from 'node:string_decoder';
import type { ControllerDeps } from '../deps.js';
import type { AddonRow } from '../../store/addons.js';
import { sessionSpec } from '../../domain/addons.js';
import { newId } from '../../lib/ids.js';
import type { AddonSession, SessionEnd, SessionOptions } from '../../domain/addon-session.js';

/** SIGTERM, then SIGKILL after this long, when a session outlives its timeout. */
const KILL_GRACE_S = 5;
/** How long the last output may lag behind the client's exit. */
const OUTPUT_LAG_MS = 5_000;

/**
 * A psql or redis-cli session: a helper container of the add-on's image (sessionSpec) attached
 * before it starts, so no output is missed; killed after its timeout or when `signal` aborts (the
 * user went away, the control plane stops); removed at the end in every case. A helper a crash
 * left behind is removed on the next start (AddonController.recover).
 */
export async function openSession(d: ControllerDeps, a: AddonRow, o: SessionOptions, signal: AbortSignal): Promise<AddonSession> {
  const id = await d.runs.createContainer(sessionSpec(d.secrets, d.instanceId, a, newId('sess'), o.args, o.tty));
  try {
    if (signal.aborted) throw new Error('the session was closed before it started');
    const pipes = o.tty ? null : await d.runs.attachPipes(id, signal);
    const term = o.tty ? await d.runs.attach(id, signal) : null;
    const stdin = pipes?.stdin ?? term!;
    const reading = pump(term, pipes?.output ?? null, o.onOutput).catch((err) => d.log.warn({ err }, 'add-on session output failed'));
    await d.runs.startContainer(id);
    d.log.info({ addon: a.id, container: id, tty: o.tty }, 'add-on session started');
    return {
      write: (text) => void stdin.write(text),
      end: () => void stdin.end(),
      resize: (cols, rows) => void d.runs.resize(id, cols, rows).catch(() => {}),
      done: finish(d, id, o.timeoutS, signal, reading),
    };
  } catch (err) {
    await d.runs.removeContainer(id).catch(() => {});
    throw err;
  }
}

async function finish(d: ControllerDeps, id: string, timeoutS: number, signal: AbortSignal, reading: Promise<void>): Promise<SessionEnd> {
  const deadline = AbortSignal.timeout(timeoutS * 1000);
  try {
    const exit_code = await d.runs.waitContainer(id, AbortSignal.any([deadline, signal]));
    await Promise.race([reading, new Promise((r) => setTimeout(r, OUTPUT_LAG_MS).unref())]);
    return { exit_code, reason: null };
  } catch (err) {
    if (signal.aborted || !deadline.aborted) throw err;
    await d.runs.stopContainer(id, KILL_GRACE_S);
    return { exit_code: (await d.runs.inspectContainer(id))?.exitCode ?? null, reason: `ended after its timeout of ${timeoutS} s` };
  } finally {
    await d.runs.removeContainer(id).catch((err) => d.log.warn({ err }, 'add-on session container removal failed'));
  }
}

/** Hands the output on as text (a chunk can end inside a character), waiting for the reader between chunks. */
async function pump(
  term: NodeJS.ReadableStream | null,
  pipes: AsyncIterable<{ stream: 'stdout' | 'stderr'; data: Buffer }> | null,
  onOutput: SessionOptions['onOutput'],
): Promise<void> {
  const decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8'), tty: new StringDecoder('utf8') };
  const chunks = pipes ?? (async function* () {
    for await (const data of term as unknown as AsyncIterable<Buffer>) yield { stream: null, data };
  })();
  for await (const c of chunks) {
    const text = decoders[c.stream ?? 'tty'].write(c.data);
    if (text) await onOutput(text, c.stream);
  }
}
