import type { Db } from '../store/db.js';
import { now, isUniqueViolation } from '../store/db.js';
import type { AppRow } from '../store/apps.js';
import type { ReleaseConfig, ReleaseRow } from '../store/releases.js';
import type { Events } from './events.js';
import { newId } from '../lib/ids.js';

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
    health_check: JSON.parse(app.health_check),
    env: app.env,
    volumes: JSON.parse(app.volumes),
    release_command: app.release_command ? JSON.parse(app.release_command) : null,
    placement: app.placement ? JSON.parse(app.placement) : null,
  };
}

/** A built app's Procfile `release:` line is its release command, unless the app's config names one. */
async function withProcfileRelease(db: Db, config: ReleaseConfig, buildId: string | null | undefined): Promise<ReleaseConfig> {
  if (!buildId || config.release_command?.length) return config;
  const b = await db.selectFrom('builds').select('procfile_release').where('id', '=', buildId).executeTakeFirst();
  return b?.procfile_release ? { ...config, release_command: ['sh', '-c', b.procfile_release] } : config;
}

/**
 * Makes release vN+1 and makes it the app's target. This only writes desired state: the app
 * controller rolls it out. A release still pending is superseded, since only the newest one matters.
 */
export async function createRelease(db: Db, events: Events, app: AppRow, r: NewRelease): Promise<ReleaseRow> {
  const config = r.config ?? (await withProcfileRelease(db, snapshot(app), r.buildId));
  for (let attempt = 0; ; attempt++) {
    try {
      const row = await db.transaction().execute(async (tx) => {
        const max = await tx
          .selectFrom('releases')
          .select((eb) => eb.fn.max('version').as('v'))
          .where('app_id', '=', app.id)
          .executeTakeFirst();
        const ts = now();
        const release: ReleaseRow = {
          id: newId('rel'),
          app_id: app.id,
          version: Number(max?.v ?? 0) + 1,
          image: r.image,
          config: JSON.stringify(config),
          status: 'pending',
          reason: null,
          description: r.description,
          build_id: r.buildId ?? null,
          created_by: r.userId ?? null,
          created_at: ts,
          updated_at: ts,
        };
        await tx
          .updateTable('releases')
          .set({ status: 'superseded', reason: `replaced by v${release.version} before it went live`, updated_at: ts })
          .where('app_id', '=', app.id)
          .where('status', '=', 'pending')
          .execute();
        await tx.insertInto('releases').values(release).execute();
        await tx
          .updateTable('apps')
          .set({
            release_id: release.id,
            image: r.image,
            stopped: 0,
            replicas: config.replicas,
            memory_mb: config.memory_mb,
            cpu: config.cpu,
            port: config.port,
            strategy: config.strategy,
            health_check: JSON.stringify(config.health_check),
            env: config.env,
            volumes: JSON.stringify(config.volumes ?? []),
            // A Procfile's release line stays the build's: only a rollback puts a snapshot's command back in the config.
            ...(r.config ? { release_command: config.release_command?.length ? JSON.stringify(config.release_command) : null } : {}),
            updated_at: ts,
          })
          .where('id', '=', app.id)
          .execute();
        return release;
      });
      await events.record({
        project_id: app.project_id,
        app_id: app.id,
        kind: 'release.created',
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
