import type { Handlers } from '../register.js';
import type { RouteOutput } from '../contract/index.js';
import { appFor } from '../access.js';
import { badRequest, conflict, notFound } from '../errors.js';
import * as releases from '../../store/releases.js';
import { buildById } from '../../store/builds.js';
import { createRelease } from '../../domain/releases.js';
import { maskedEnv } from '../../domain/env.js';
import { checkAppShape } from '../quota.js';
import { registryHostOf } from '../../domain/registries.js';
import { checkHost } from '../../lib/egress.js';
import { checkImageUse } from './image-use.js';

type Release = RouteOutput<'getRelease'>;

export function releaseDto(r: releases.ReleaseRow, liveId: string | null): Release {
  const c = releases.releaseConfig(r);
  return {
    id: r.id,
    version: r.version,
    image: r.image,
    status: r.status,
    reason: r.reason,
    description: r.description,
    build_id: r.build_id,
    current: r.id === liveId,
    config: {
      replicas: c.replicas,
      memory: c.memory_mb,
      cpu: c.cpu,
      port: c.port,
      strategy: c.strategy,
      health_check: c.health_check,
      env: maskedEnv(c.env).env,
    },
    created_at: r.created_at,
    updated_at: r.updated_at,
  };
}

/** In rotation when the database wants it there and the router has applied it (they differ during a reload). */

/** Deploys, releases and rollbacks: handlers write the release (desired state); the app controller rolls it out. */
export const releaseHandlers = {
  async deployApp({ user, params, body }, ctx) {
    const app = await appFor(ctx, user, params.id, 'developer');
    await checkAppShape(ctx, user, app.project_id, { replicas: body.replicas });
    if (!!body.image_id === !!body.build_id) throw badRequest('give exactly one of image_id or build_id', 'image_id');
    let image = body.image_id;
    let buildId: string | null = null;
    if (body.build_id) {
      const build = await buildById(ctx.db, body.build_id);
      if (!build || build.app_id !== app.id) throw notFound('build', body.build_id);
      if (build.status !== 'succeeded' || !build.image) throw conflict(`build ${body.build_id} has not succeeded (it is ${build.status})`, 'build_id');
      image = build.image;
      buildId = build.id;
    }
    const registry = body.image_id ? registryHostOf(body.image_id) : null;
    if (registry) checkHost(registry.replace(/:\d+$/, ''), 'image_id', ctx.config.egressAllow);
    // An image on a registry host is pulled by the app controller (with the caller's registry account);
    // others must be on the engine and the project's (a build of its own is).
    if (!buildId) await checkImageUse(ctx, user, app, image!, 'image_id');
    const row = body.replicas !== undefined ? { ...app, replicas: body.replicas } : app;
    const release = await createRelease(ctx.db, ctx.events, row, {
      image: image!,
      description: buildId ? `Deploy build ${buildId}` : `Deploy ${image}`,
      buildId,
      userId: user.id,
    });
    ctx.nudge(app.id);
    return releaseDto(release, app.live_release_id);
  },

  async listReleases({ user, params }, ctx) {
    const app = await appFor(ctx, user, params.id);
    return { items: (await releases.listReleases(ctx.db, app.id)).map((r) => releaseDto(r, app.live_release_id)) };
  },

  async getRelease({ user, params }, ctx) {
    const app = await appFor(ctx, user, params.id);
    const r = await releases.releaseByVersion(ctx.db, app.id, params.version);
    if (!r) throw notFound('release', `v${params.version}`);
    return releaseDto(r, app.live_release_id);
  },

  async rollbackApp({ user, params, body }, ctx) {
    const app = await appFor(ctx, user, params.id, 'developer');
    const live = app.live_release_id ? await releases.releaseById(ctx.db, app.live_release_id) : undefined;
    let from: releases.ReleaseRow | undefined;
    if (body?.release) {
      from = await releases.releaseByVersion(ctx.db, app.id, body.release);
      if (!from) throw notFound('release', `v${body.release}`);
    } else {
      // The last release that was live before the current one.
      from = await releases.previousLiveRelease(ctx.db, app.id, live?.version);
      if (!from) throw conflict(`${app.slug} has no earlier live release to roll back to`, 'release');
    }
    if (!registryHostOf(from.image) && !(await ctx.runtime.inspectImage(from.image))) {
      throw conflict(`the image of v${from.version} (${from.image}) is no longer on the engine`, 'release');
    }
    // A release of this app may predate the ownership check (or run a shared image since unshared).
    await checkImageUse(ctx, user, app, from.image, 'release');
    const row = await createRelease(ctx.db, ctx.events, app, {
      image: from.image,
      // A rollback restores code and config; the scale stays what it is now, as with Heroku's formation.
      config: { ...releases.releaseConfig(from), replicas: app.replicas },
      description: `Rollback to v${from.version}`,
      buildId: from.build_id,
      userId: user.id,
    });
    ctx.nudge(app.id);
    return releaseDto(row, app.live_release_id);
  },
} satisfies Handlers;
