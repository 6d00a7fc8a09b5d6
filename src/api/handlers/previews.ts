import type { ApiContext } from '../context.js';
import * as apps from '../../store/apps.js';
import type { AppRow } from '../../store/apps.js';
import * as sources from '../../store/app-sources.js';
import type { AppSourceRow } from '../../store/app-sources.js';
import * as builds from '../../store/builds.js';
import { isUniqueViolation, now } from '../../store/db.js';
import { newId } from '../../lib/ids.js';
import type { StoredEnv } from '../../domain/env.js';
import type { Delivery } from '../../domain/webhooks.js';
import { appUrl } from './apps.js';
import { isControlHost } from '../../domain/custom-domains.js';

type Request = Extract<Delivery, { kind: 'request' }>;
export interface HookAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** `<slug>-pr-<n>`, shortened to a DNS label (63) by trimming the parent's part. */
export function previewSlug(parent: string, n: number): string {
  const suffix = `-pr-${n}`;
  return `${parent.slice(0, 63 - suffix.length).replace(/-+$/, '')}${suffix}`;
}

/**
 * The parent's config for a pull request's code, which anyone who can open a request wrote: no
 * volumes (production data), no release command of the parent's (it would run the request's code
 * as a migration), secret config vars only when the source's owner opted in (preview_secrets),
 * and the parent's placement only when it has no volumes (it pins the app to their node then).
 */
export function previewRow(parent: AppRow, slug: string, withSecrets: boolean): AppRow {
  const kept: StoredEnv = Object.fromEntries(Object.entries(parent.env).filter(([, v]) => withSecrets || !v.s));
  const hasVolumes = parent.volumes.length > 0;
  const ts = now();
  return {
    ...parent,
    id: newId('app'),
    name: slug,
    slug,
    image: null,
    replicas: 1,
    env: kept,
    volumes: [],
    release_command: null,
    placement: hasVolumes ? null : parent.placement,
    release_id: null,
    live_release_id: null,
    stopped: 0,
    restart_seq: 0,
    auto_deploy: 1,
    created_at: ts,
    updated_at: ts,
  };
}

/**
 * A pull/merge request: opened or updated builds its branch into the preview app (made on first
 * use); closed or merged deletes that app, which the app controller then stops and removes.
 */
export async function previewRequest(ctx: ApiContext, parent: AppRow, source: AppSourceRow, what: Request, provider: string): Promise<HookAnswer> {
  if (!source.previews) return { status: 202, body: { ok: true, built: false, reason: 'previews are off for this app (berth source set APP URL --previews on)' } };
  const existing = await sources.previewOf(ctx.db, parent.id, what.number);
  const record = (kind: string, message: string, data: Record<string, unknown>) =>
    ctx.events.record({ project_id: parent.project_id, app_id: parent.id, kind, message, data: { request: what.number, ...data } });
  if (what.action === 'close') {
    if (!existing) return { status: 202, body: { ok: true, built: false, reason: `request #${what.number} has no preview app` } };
    const preview = await apps.appById(ctx.db, existing.app_id);
    await apps.deleteApp(ctx.db, existing.app_id);
    ctx.nudge(existing.app_id);
    await record('preview.deleted', `preview ${preview?.slug ?? existing.app_id} of request #${what.number} deleted (request closed)`, { app: preview?.slug });
    return { status: 202, body: { ok: true, built: false, reason: `request #${what.number} closed: preview deleted`, preview: preview?.slug ?? null } };
  }
  let preview: AppRow | undefined = existing ? await apps.appById(ctx.db, existing.app_id) : undefined;
  if (!preview) {
    const slug = previewSlug(parent.slug, what.number);
    // A preview's name is made from a pull request's number; it must not land on the dashboard's name.
    if (isControlHost(`${slug}.${ctx.config.routerDomain}`, ctx.config.controlHosts)) {
      return { status: 409, body: { error: { code: 'conflict', message: `app slug ${slug} is reserved for this Berth's dashboard; the preview of request #${what.number} cannot be made` } } };
    }
    const row = previewRow(parent, slug, !!source.preview_secrets);
    try {
      await sources.insertPreviewApp(ctx.db, row, { app_id: row.id, parent_id: parent.id, number: what.number, branch: what.branch });
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      return { status: 409, body: { error: { code: 'conflict', message: `app slug ${slug} is taken; the preview of request #${what.number} cannot be made` } } };
    }
    preview = row;
    ctx.nudge(row.id);
  }
  const b = await builds.insertBuild(ctx.db, {
    appId: preview.id,
    slug: preview.slug,
    source: 'git',
    status: 'queued',
    repoUrl: source.repo_url,
    branch: what.branch,
    vendorId: source.vendor_id,
    commit: what.commit ? { sha: what.commit, message: what.title, committer: '' } : null,
    userId: null,
  });
  const url = appUrl(ctx, preview.slug);
  await record('preview.building', `preview of request #${what.number} (${what.branch}) building: ${url}`, { app: preview.slug, url, build_id: b.id });
  ctx.nudgeBuilds();
  return { status: 202, body: { ok: true, built: true, reason: `${provider} request #${what.number}`, preview: preview.slug, url, build_id: b.id, build: b.number } };
}
