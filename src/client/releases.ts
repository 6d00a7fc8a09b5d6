import type { BerthClient } from './index.js';
import type { RouteOutput } from '../api/contract/index.js';

/** Waits on releases for `berth deploy` and the git push hook: both end when the release does. */

export type Release = RouteOutput<'getRelease'>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * How long a release may take to settle: each replica may use its health timeout (and grace), one
 * after another in a rolling deploy; the margin covers starting containers and a release command.
 */
export function releaseBudgetMs(r: Release, marginS = 120): number {
  const hc = r.config.health_check;
  return ((hc.timeout_s + hc.grace_s) * Math.max(1, r.config.replicas) + marginS) * 1000;
}

/**
 * The release a build made for an auto-deploying app. The build is marked succeeded a moment before
 * its release is written, so this polls the build; null when none appears within waitMs.
 */
export async function releaseOfBuild(client: BerthClient, app: string, buildId: string, waitMs = 30_000): Promise<Release | null> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const b = await client.call('getBuild', { params: { id: buildId } });
    if (b.release_id) {
      const rel = (await client.call('listReleases', { params: { id: app } })).items.find((r) => r.id === b.release_id);
      if (rel) return rel;
    }
    if (Date.now() > deadline) return null;
    await sleep(500);
  }
}

/** Whether a release is still on its way (pending or rolling out). */
export const unsettled = (r: Release) => r.status === 'pending' || r.status === 'deploying';

/**
 * Polls a release until it is live, failed or superseded, or until timeoutMs has passed (then the
 * release is returned still unsettled). onChange hears each new status.
 */
export async function settleRelease(client: BerthClient, app: string, version: number, timeoutMs: number, onChange?: (r: Release) => void): Promise<Release> {
  const deadline = Date.now() + timeoutMs;
  let seen = '';
  for (;;) {
    const r = await client.call('getRelease', { params: { id: app, version } });
    if (r.status !== seen) {
      seen = r.status;
      onChange?.(r);
    }
    if (!unsettled(r) || Date.now() > deadline) return r;
    await sleep(1000);
  }
}

/** The first line of a failure's reason (a crash's log can follow it). */
export const firstLine = (text: string | null) => (text ?? '').split('\n')[0].trim() || 'no reason given';
