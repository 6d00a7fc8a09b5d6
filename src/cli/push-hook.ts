#!/usr/bin/env node
/**
 * git's post-receive hook for an app's remote. Run by `git http-backend` inside the push request,
 * with the pushed refs on stdin and (from the server) BERTH_PUSH_API, BERTH_PUSH_TOKEN and
 * BERTH_PUSH_APP in the environment. It queues a build of the pushed commit and prints the build
 * log as it happens; git shows the output to the pusher as "remote: ..." lines. With auto-deploy it
 * then waits for the release the build made and ends with `vN released: URL` or `vN failed: REASON`.
 * A post-receive hook cannot refuse a push (the refs are updated already): a failed build or release
 * makes it exit non-zero, and its last line tells the outcome.
 */
import { BerthClient } from '../client/index.js';
import { firstLine, releaseBudgetMs, releaseOfBuild, settleRelease } from '../client/releases.js';

const BRANCHES = ['refs/heads/main', 'refs/heads/master'];
/** The push request lives for the build timeout plus 10 minutes (api/handlers/git-remote.ts): a wait ends before that. */
const MAX_RELEASE_WAIT_MS = 8 * 60_000;
const ZERO = /^0+$/;

async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  return text;
}

async function follow(client: BerthClient, buildId: string): Promise<{ status: string; message: string | null }> {
  let final: { status: string; message: string | null } | null = null;
  await client.stream('followBuildLog', { params: { id: buildId } }, (msg) => {
    if (msg.type === 'line') process.stdout.write(`${msg.line}\n`);
    else final = { status: msg.status, message: msg.message };
  });
  if (!final) throw new Error('the build log stream ended early');
  return final;
}

async function main() {
  const api = process.env.BERTH_PUSH_API;
  const token = process.env.BERTH_PUSH_TOKEN;
  const appId = process.env.BERTH_PUSH_APP;
  if (!api || !token || !appId) return;
  const updates = (await readStdin())
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((p) => p.length === 3);
  const target = updates.find(([, sha, ref]) => BRANCHES.includes(ref) && !ZERO.test(sha));
  if (!target) {
    console.log('Berth builds pushes to main or master; nothing to build for this push.');
    return;
  }
  const [, commit, ref] = target;
  const client = new BerthClient({ baseUrl: api, token });
  const build = await client.call('createPushBuild', { params: { id: appId }, body: { commit, branch: ref.replace('refs/heads/', '') } });
  console.log(`-----> Build #${build.number} queued for ${commit.slice(0, 7)} (${build.id})`);
  const end = await follow(client, build.id);
  if (end.status !== 'succeeded') {
    console.log(`-----> Build #${build.number} ${end.status}${end.message ? `: ${end.message}` : ''}`);
    process.exitCode = 1;
    return;
  }
  const app = await client.call('getApp', { params: { id: appId } });
  if (!app.auto_deploy) {
    console.log(`-----> Built (auto-deploy is off): deploy it with "berth deploy --app ${app.slug} --image ${build.image ?? ''}"`.trimEnd());
    return;
  }
  const made = await releaseOfBuild(client, appId, build.id);
  if (!made) {
    console.log(`-----> Build #${build.number} made no release (was auto-deploy turned off?): see "berth releases ${app.slug}"`);
    process.exitCode = 1;
    return;
  }
  const budget = Math.min(releaseBudgetMs(made), MAX_RELEASE_WAIT_MS);
  console.log(`-----> Releasing v${made.version} (${made.config.strategy}, ${made.config.replicas} replica${made.config.replicas === 1 ? '' : 's'}; waiting up to ${Math.round(budget / 1000)} s)`);
  const rel = await settleRelease(client, appId, made.version, budget);
  if (rel.status === 'live') {
    console.log(`-----> v${rel.version} released: ${app.url}`);
  } else if (rel.status === 'superseded') {
    console.log(`-----> v${rel.version} was superseded by a newer release before it went live: see "berth releases ${app.slug}"`);
  } else if (rel.status === 'pending' || rel.status === 'deploying') {
    console.log(`-----> v${rel.version} is still ${rel.status} after ${Math.round(budget / 1000)} s; follow it with "berth releases ${app.slug}" or "berth events --app ${app.slug} --follow"`);
    process.exitCode = 1;
  } else {
    console.log(`-----> v${rel.version} ${rel.status}: ${firstLine(rel.reason)}`);
    process.exitCode = 1;
  }
}

main().catch((err) => {
  console.log(`Berth: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
