import type { App, Container, Release } from '../api';
import type { Tracked } from '../progress';

export type Step = { text: string; done: boolean };
export type Progress = { title: string; steps: Step[]; done: boolean; failure: string | null };

/** Replicas that serve or are about to: what "old replicas stopped" waits for. */
const serving = (c: Container) => c.in_rotation || ['starting', 'healthy', 'running', 'unhealthy'].includes(c.status);
const web = (cs: Container[]) => cs.filter((c) => c.process_type === 'web');
const healthy = (cs: Container[]) => cs.filter((c) => c.status === 'healthy').length;
/** A replica of the action that crashed or failed its check, with the controller's message. */
function trouble(cs: Container[]): string | null {
  const c = cs.find((x) => x.status === 'crashed' || x.status === 'unhealthy');
  return c ? `replica ${c.replica} is ${c.status}${c.message ? `: ${c.message}` : ''}` : null;
}

/**
 * Where an action is, from the app's containers (and the release it made): the same data the
 * Containers and Deploys tabs show, put as the steps a user waits through.
 */
export function stepsOf(t: Tracked, app: App, all: Container[], release: Release | null): Progress {
  const ws = web(all);
  if (t.kind === 'restart') {
    const fresh = ws.filter((c) => !t.before.includes(c.id));
    const old = ws.filter((c) => t.before.includes(c.id));
    const serve = old.filter(serving).length;
    // A replica leaving rotation keeps its requests for the app's drain timeout, then stops.
    const up = old.filter((c) => c.status !== 'stopped').length;
    const steps = [
      { text: `Starting new replicas: ${healthy(fresh)}/${t.replicas} healthy`, done: healthy(fresh) >= t.replicas },
      { text: `Old replicas out of rotation: ${t.before.length - serve}/${t.before.length}`, done: serve === 0 },
      { text: `Old replicas stopped: ${t.before.length - up}/${t.before.length}${up && !serve ? ` (draining, up to ${app.drain_timeout_s} s)` : ''}`, done: up === 0 },
    ];
    return { title: 'Restarting', steps, done: steps.every((s) => s.done), failure: trouble(fresh) };
  }
  if (t.kind === 'scale' || t.kind === 'start') {
    const live = ws.filter((c) => c.release === app.release);
    // Draining ones count until they stop: "done" means the count the user asked for, and no more.
    const up = live.filter((c) => c.status !== 'stopped').length;
    const steps = [{ text: `Replicas healthy: ${healthy(live)}/${t.replicas}`, done: healthy(live) >= t.replicas }];
    if (up > t.replicas) steps.push({ text: `Stopping ${up - t.replicas} extra ${up - t.replicas === 1 ? 'replica' : 'replicas'}`, done: false });
    const title = t.kind === 'start' ? 'Starting' : `Scaling to ${t.replicas}`;
    return { title, steps, done: steps.every((s) => s.done) && up === t.replicas, failure: trouble(live) };
  }
  if (t.kind === 'stop') {
    const left = all.filter((c) => c.status !== 'stopped').length;
    return { title: 'Stopping', steps: [{ text: left ? `Stopping replicas: ${left} still running` : 'All replicas stopped', done: left === 0 }], done: left === 0, failure: null };
  }
  const mine = ws.filter((c) => c.release === t.version);
  const oldLeft = ws.filter((c) => c.release !== t.version && serving(c)).length;
  const status = release?.status ?? 'pending';
  const steps = [
    { text: `Release v${t.version}: ${status}`, done: status === 'live' },
    { text: `New replicas: ${healthy(mine)}/${t.replicas} healthy`, done: healthy(mine) >= t.replicas },
    { text: oldLeft ? `Old replicas: ${oldLeft} still serving` : 'Old replicas out of rotation', done: oldLeft === 0 },
  ];
  const title = `${t.kind === 'rollback' ? 'Rolling back' : 'Deploying'}: v${t.version}`;
  const failure = status === 'failed' ? (release?.reason ?? 'the release failed') : null;
  return { title, steps, done: status === 'live' && steps.every((s) => s.done), failure };
}
