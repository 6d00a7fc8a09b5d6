import { randomBytes } from 'node:crypto';
import type { Static } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { Handlers } from '../register.js';
import type { ApiContext, AuthUser } from '../context.js';
import type { RouteOutput } from '../contract/index.js';
import { appFor } from '../access.js';
import { HttpError, badRequest, notFound } from '../errors.js';
import * as vendors from '../../store/vendors.js';
import type { VendorRow } from '../../store/vendors.js';
import * as sources from '../../store/app-sources.js';
import type { AppSourceRow } from '../../store/app-sources.js';
import * as builds from '../../store/builds.js';
import { now } from '../../store/db.js';
import { newId } from '../../lib/ids.js';
import { repoProblem, vendorHost, vendorProblem, vendorUser } from '../../domain/vendors.js';
import { gitTarget, oneBuildDto } from './build-common.js';
import { checkHost } from '../../lib/egress.js';
import { redact } from '../../lib/redact.js';
import type { AppSourceInput } from '../contract/schemas.js';

export const vendorDto = (v: VendorRow): RouteOutput<'createVendor'> => ({
  id: v.id,
  vendor: v.vendor,
  host: v.host,
  username: v.username,
  created_at: v.created_at,
});

/** Where providers reach this server: the address the caller used (a proxy in front sets X-Forwarded-*). */
export const webhookUrl = (req: FastifyRequest, appId: string) => `${req.protocol}://${req.host}/api/v1/webhooks/${appId}`;

export const newWebhookSecret = () => randomBytes(24).toString('hex');

async function sourceDto(ctx: ApiContext, req: FastifyRequest, s: AppSourceRow): Promise<RouteOutput<'getAppSource'>> {
  const v = s.vendor_id ? await vendors.vendorById(ctx.db, s.vendor_id) : undefined;
  return {
    repo_url: redact(s.repo_url),
    branch: s.branch,
    vendor: v ? vendorDto(v) : null,
    webhook_url: webhookUrl(req, s.app_id),
    previews: !!s.previews,
    preview_secrets: !!s.preview_secrets,
    updated_at: s.updated_at,
  };
}

/** The caller's own vendor account (an admin may use anyone's); others' accounts are a 404 like a missing one. */
async function ownVendor(ctx: ApiContext, user: AuthUser, id: string, field: string): Promise<VendorRow> {
  const v = await vendors.vendorById(ctx.db, id);
  if (!v || (v.owner_id !== user.id && !user.is_admin)) {
    if (field === 'params.id') throw notFound('vendor account', id);
    throw badRequest(`${field} "${id}" is not one of your vendor accounts (berth vendors ls)`, field);
  }
  return v;
}

export async function appSource(ctx: ApiContext, appId: string, slug: string): Promise<AppSourceRow> {
  const s = await sources.sourceOf(ctx.db, appId);
  if (!s) throw notFound(`git source of app "${slug}" (set one: berth source set ${slug} REPO_URL)`);
  return s;
}

/**
 * Sets an app's git source (PUT /apps/{id}/source, or `source` in PUT /apps/{id}); a bad value is a
 * 400 naming the field under `prefix` ("" or "source."), and nothing is written then.
 */
export async function writeAppSource(ctx: ApiContext, user: AuthUser, app: { id: string; slug: string; project_id: string }, body: Static<typeof AppSourceInput>, prefix = ''): Promise<void> {
  // The same checks as the source route; inside PUT /apps/{id} the field is named under `source.`.
  const named = <T>(work: () => Promise<T> | T): Promise<T> =>
    Promise.resolve()
      .then(work)
      .catch((err: unknown) => {
        if (!prefix || !(err instanceof HttpError) || typeof err.details?.field !== 'string') throw err;
        const field = err.details.field;
        throw new HttpError(err.status, err.code, `${prefix}${err.message}`, { ...err.details, field: `${prefix}${field}` });
      });
  const { repoUrl, branch } = await named(() => gitTarget(body.repo_url, body.branch, ctx.config.egressAllow));
  const existing = await sources.sourceOf(ctx.db, app.id);
  // Keeping the account another developer set is fine; naming one takes owning it.
  const vendor = await named(async () =>
    body.vendor === undefined
      ? existing?.vendor_id ? ((await vendors.vendorById(ctx.db, existing.vendor_id)) ?? null) : null
      : body.vendor === null
        ? null
        : await ownVendor(ctx, user, body.vendor, 'vendor'),
  );
  // A vendor token is bound to the repository it was set for: pointing the source at another one
  // would clone that with the token of someone who never agreed to it. Only the account's owner
  // (or an admin, who may name any account) moves it; others name their own account or none.
  if (body.vendor === undefined && vendor && existing && existing.repo_url !== repoUrl && vendor.owner_id !== user.id && !user.is_admin) {
    throw badRequest(
      `${prefix}repo_url cannot change while the source uses ${vendor.username}'s ${vendor.vendor} account (it was authorised for ${redact(existing.repo_url)}): only its owner may point it elsewhere; name your own account (vendor) or none (vendor: null)`,
      `${prefix}repo_url`,
    );
  }
  const problem = repoProblem(repoUrl, vendor);
  if (problem) throw badRequest(`${prefix}repo_url ${problem}`, `${prefix}repo_url`);
  await sources.upsertSource(ctx.db, {
    app_id: app.id,
    repo_url: repoUrl,
    branch,
    vendor_id: vendor?.id ?? null,
    webhook_secret_sealed: existing?.webhook_secret_sealed ?? ctx.secrets.seal(newWebhookSecret()),
    previews: body.previews === undefined ? (existing?.previews ?? 0) : body.previews ? 1 : 0,
    preview_secrets: body.preview_secrets === undefined ? (existing?.preview_secrets ?? 0) : body.preview_secrets ? 1 : 0,
  });
  await ctx.events.record({ project_id: app.project_id, app_id: app.id, kind: 'app.source', message: `source of ${app.slug} set to ${redact(repoUrl)} (${branch})${vendor ? ` with the ${vendor.vendor} account` : ''}` });
}

export const vendorHandlers = {
  async createVendor({ user, body }, ctx) {
    const problem = vendorProblem(body.vendor, body.host);
    if (problem) throw badRequest(problem.message, problem.field);
    if (body.host !== undefined) checkHost(body.host.replace(/:\d+$/, ''), 'host', ctx.config.egressAllow);
    const row: VendorRow = {
      id: newId('vnd'),
      owner_id: user.id,
      vendor: body.vendor,
      host: vendorHost(body.vendor, body.host),
      username: vendorUser(body.vendor, body.username),
      token_sealed: ctx.secrets.seal(body.token),
      created_at: now(),
    };
    await vendors.insertVendor(ctx.db, row);
    return vendorDto(row);
  },

  async listVendors({ user }, ctx) {
    return { items: (await vendors.vendorsOf(ctx.db, user.id)).map(vendorDto) };
  },

  async deleteVendor({ user, params }, ctx) {
    const v = await ownVendor(ctx, user, params.id, 'params.id');
    await vendors.deleteVendor(ctx.db, v.id);
    return { ok: true };
  },

  async getAppSource({ user, params, raw }, ctx) {
    const app = await appFor(ctx, user, params.id);
    return sourceDto(ctx, raw, await appSource(ctx, app.id, app.slug));
  },

  async setAppSource({ user, params, body, raw }, ctx) {
    const app = await appFor(ctx, user, params.id, 'developer');
    await writeAppSource(ctx, user, app, body);
    return sourceDto(ctx, raw, (await sources.sourceOf(ctx.db, app.id))!);
  },

  async deleteAppSource({ user, params }, ctx) {
    const app = await appFor(ctx, user, params.id, 'developer');
    await appSource(ctx, app.id, app.slug);
    await sources.deleteSource(ctx.db, app.id);
    return { ok: true };
  },

  async buildAppSource({ user, params }, ctx) {
    const app = await appFor(ctx, user, params.id, 'developer');
    const s = await appSource(ctx, app.id, app.slug);
    const b = await builds.insertBuild(ctx.db, { appId: app.id, slug: app.slug, source: 'git', status: 'queued', repoUrl: s.repo_url, branch: s.branch, vendorId: s.vendor_id, userId: user.id });
    await ctx.events.record({ project_id: app.project_id, app_id: app.id, kind: 'build.queued', message: `build #${b.number} queued (${redact(s.repo_url)} ${s.branch})`, data: { build: b.number, build_id: b.id } });
    ctx.nudgeBuilds();
    return oneBuildDto(ctx, b, app.slug);
  },
} satisfies Handlers;
