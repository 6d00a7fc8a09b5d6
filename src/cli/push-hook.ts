#!/usr/bin/env node
/**
 * git's post-receive hook for an app's remote. Run by `git http-backend` inside the push request,
 * with the pushed refs on stdin and (from the server) BERTH_PUSH_API, BERTH_PUSH_TOKEN and
 * BERTH_PUSH_APP in the environment. It queues a build of the pushed commit and prints the build
 * log as it happens; git shows the output to the pusher as "remote: ..." lines.
 */
import { BerthClient } from '../client/index.js';

const BRANCHES = ['refs/heads/main', 'refs/heads/master'];
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
    return;
  }
  const app = await client.call('getApp', { params: { id: appId } });
  console.log(`-----> ${app.auto_deploy ? 'Deploying' : 'Built (auto-deploy is off)'}: ${app.url}`);
}

main().catch((err) => {
  console.log(`Berth: ${err instanceof Error ? err.message : String(err)}`);
});
