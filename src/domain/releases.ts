import type { Db } from '../store/db.js';
import { isUniqueViolation } from '../store/db.js';
import type { AppRow } from '../store/apps.js';
import { insertRelease, releaseById, releaseConfig, type ReleaseConfig, type ReleaseRow } from '../store/releases.js';
import { procfileRelease } from '../store/builds.js';
import { buildProcesses } from '../store/formation.js';
import type { Events } from './events.js';

export interface NewRelease {
  image: string;
  description: string;
  buildId?: string | null;
  userId?: string | null;
  /** Overrides the app's config for this release (rollback passes the old snapshot). */
  config?: ReleaseConfig;
}

export function snapshot(app: AppRow): ReleaseConfig {
  return {
    replicas: app.replicas,
    memory_mb: app.memory_mb,
    cpu: app.cpu,
    port: app.port,
    strategy: app.strategy,
    health_check: app.health_check,
    env: app.env,
    volumes: app.volumes,
    release_command: app.release_command,
    placement: app.placement,
  };
}

/**
 * The process types besides web a release runs: a build's are its Procfile's; a release of the same
 * image without a build (a config change) keeps those of the release it follows; another image has none.
 */
async function withProcesses(db: Db, config: ReleaseConfig, app: AppRow, r: NewRelease): Promise<ReleaseConfig> {
  const rest = { ...config };
  delete rest.processes;
  let processes: Record<string, string> = {};
  if (r.buildId) processes = await buildProcesses(db, r.buildId);
  else if (app.release_id) {
    const prev = await releaseById(db, app.release_id);
    if (prev && prev.image === r.image) processes = releaseConfig(prev).processes ?? {};
  }
  return Object.keys(processes).length ? { ...rest, processes } : rest;
}

/** A built app's Procfile `release:` line is its release command, unless the app's config names one. */
async function withProcfileRelease(db: Db, config: ReleaseConfig, buildId: string | null | undefined): Promise<ReleaseConfig> {
  if (!buildId || config.release_command?.length) return config;
  const line = await procfileRelease(db, buildId);
  return line ? { ...config, release_command: ['sh', '-c', line] } : config;
}

/**
 * Makes release vN+1 and makes it the app's target. This only writes desired state: the app
 * controller rolls it out. A release still pending is superseded, since only the newest one matters.
 */
export async function createRelease(db: Db, events: Events, app: AppRow, r: NewRelease): Promise<ReleaseRow> {
  const config = r.config ?? (await withProcesses(db, await withProcfileRelease(db, snapshot(app), r.buildId), app, r));
  for (let attempt = 0; ; attempt++) {
    try {
      const row = await insertRelease(db, {
        appId: app.id,
        image: r.image,
        config,
        description: r.description,
        buildId: r.buildId ?? null,
        userId: r.userId ?? null,
        // A Procfile's release line stays the build's: only a rollback puts a snapshot's command back in the config.
        withReleaseCommand: !!r.config,
      });
      await events.record({
        project_id: app.project_id,
        app_id: app.id,
        kind: 'release.created',
        actor: r.userId ? { user: r.userId } : { system: 'releases' },
        message: `v${row.version} created: ${row.description}`,
        data: { release: row.version, image: row.image },
      });
      return row;
    } catch (err) {
      // Two deploys at once picked the same version; the loser takes the next one.
      if (isUniqueViolation(err) && attempt < 5) continue;
      throw err;
    }
  }
}
