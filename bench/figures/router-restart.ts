import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BerthClient } from '../../src/client/index.js';
import { viaRouter } from '../../test/support/load.js';
import { waitFor } from '../../test/support/wait.js';
import type { TestServer } from '../../test/support/server.js';
import type { Bench } from '../support/context.js';
import { percentile } from '../support/load.js';
import { row, type Row } from '../support/report.js';

const ROUNDS = 4;
const APPS = 3;
const POLL_MS = 50;
const GOAL_MS = 1000;
/**
 * Each kill comes this long after the last start of the control plane or of HAProxy, once the
 * control plane's start-up passes (route controller, first reconcile of every app) are over, as for
 * a kill at any later moment; rounds shift it by 1.25 s across the route controller's 5 s drift check.
 */
const SETTLE_MS = 6000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * kill -9 of HAProxy's master and worker under a real control plane (watchMs 250, as main.ts), until
 * every app answers 200 through the router again, each app polled every 50 ms by its own client.
 * Two cases, alternating in the same run: HAProxy started by the running control plane (its child),
 * and HAProxy found running by a control plane restarted (SIGTERM then start, as `scripts/up.sh`
 * does on every upgrade), whose parent is then init.
 */
export async function routerRestart(bench: Bench): Promise<Row[]> {
  const s = await bench.startServer('sqlite');
  const dev = await s.newUser('restart');
  await dev.call('createProject', { body: { name: 'restart' } });
  const image = await bench.image();
  const slugs = Array.from({ length: APPS }, (_, i) => bench.appName(`rr${i}`));
  for (const slug of slugs) await deploy(bench, s, dev, slug, image);

  const child: number[] = [];
  const adopted: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    // The HAProxy now running was started by this control plane (first start or the last restart).
    assertParent(s, true);
    await sleep(SETTLE_MS + 1250 * i);
    child.push(await killAndTime(s, slugs));
    await s.stop();
    await s.start();
    // The route controller's first pass (before the API listens) read HAProxy and found every route.
    assertParent(s, false);
    await sleep(SETTLE_MS + 1250 * i);
    adopted.push(await killAndTime(s, slugs));
    process.stderr.write(`  round ${i + 1}: started here ${child.at(-1)} ms, found running ${adopted.at(-1)} ms\n`);
  }
  const note = (list: number[]) =>
    `${ROUNDS} kills (master and worker, kill -9) ${SETTLE_MS / 1000}-${(SETTLE_MS + 1250 * (ROUNDS - 1)) / 1000} s after the last start, ${APPS} apps polled every ${POLL_MS} ms; all: ${list.join(', ')} ms; median shown`;
  const med = (list: number[]) => percentile([...list].sort((a, b) => a - b), 50);
  return [
    row({ group: 'router', figure: 'kill -9 of HAProxy started here: every app serving again', unit: 'ms', berth: med(child), baseline: GOAL_MS, baselineName: 'goal', better: 'lower', note: note(child) }),
    row({ group: 'router', figure: 'kill -9 of HAProxy found running after a control-plane restart: every app serving again', unit: 'ms', berth: med(adopted), baseline: GOAL_MS, baselineName: 'goal', better: 'lower', note: note(adopted) }),
    row({ group: 'router', figure: 'kill -9 of HAProxy: worst of both cases', unit: 'ms', berth: Math.max(...child, ...adopted), baseline: GOAL_MS, baselineName: 'goal', better: 'lower', note: `${ROUNDS * 2} kills` }),
  ];
}

async function deploy(bench: Bench, s: TestServer, dev: BerthClient, slug: string, image: string): Promise<void> {
  await dev.call('createApp', { body: { name: slug, project: 'restart', health_check: { path: '/health', timeout_s: 60, grace_s: 0 } } });
  await dev.call('deployApp', { params: { id: slug }, body: { image_id: image, replicas: 1 } });
  await bench.healthy(dev, slug, 1);
  await waitFor(`${slug} through the router`, async () => (await viaRouter(s.routerPort, `${slug}.localhost`)).status === 200, { timeoutMs: 30_000, intervalMs: 50 });
}

/** Kills the master and its worker; resolves with the time until every app answered 200 again. */
async function killAndTime(s: TestServer, slugs: string[]): Promise<number> {
  const master = masterPid(s);
  const workers = childrenOf(master);
  if (workers.length === 0) throw new Error(`HAProxy ${master} has no worker`);
  for (const app of slugs) if ((await viaRouter(s.routerPort, `${app}.localhost`)).status !== 200) throw new Error(`${app} does not answer before the kill`);
  process.kill(master, 'SIGKILL');
  for (const w of workers) process.kill(w, 'SIGKILL');
  const t0 = performance.now();
  const back = await Promise.all(
    slugs.map((app) =>
      waitFor(
        `${app} to answer again after kill -9 of HAProxy`,
        async () => ((await viaRouter(s.routerPort, `${app}.localhost`, '/', undefined, 1000)).status === 200 ? performance.now() : undefined),
        { timeoutMs: 30_000, intervalMs: POLL_MS },
      ),
    ),
  );
  if (masterPid(s) === master) throw new Error('the same HAProxy master answers');
  return Math.round(Math.max(...back) - t0);
}

function masterPid(s: TestServer): number {
  return Number(readFileSync(join(s.dataDir, 'haproxy', 'haproxy.pid'), 'utf8'));
}

function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (parentOf(Number(d)) === pid) out.push(Number(d));
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

/** Whether the running HAProxy master is the control plane's child (started here) or not (found running). */
function assertParent(s: TestServer, child: boolean): void {
  const isChild = parentOf(masterPid(s)) === s.pid;
  if (isChild !== child) throw new Error(`expected an HAProxy ${child ? 'started by' : 'found running by'} the control plane`);
}
