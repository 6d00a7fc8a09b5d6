import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ApiContext } from '../context.js';
import { appById } from '../../store/apps.js';
import * as sources from '../../store/app-sources.js';
import * as builds from '../../store/builds.js';
import { deliveryId, interpret, providerOf, verifyDelivery } from '../../domain/webhooks.js';
import { previewRequest } from './previews.js';

/** Providers send a few KB; GitHub caps a payload at 25 MB, but a push that large is not worth reading. */
const BODY_LIMIT = 1024 * 1024;

const fail = (reply: FastifyReply, status: number, code: string, message: string, field?: string) =>
  reply.code(status).send({ error: { code, message, ...(field ? { details: { field } } : {}) } });

/**
 * POST /api/v1/webhooks/{app id}: push events from GitHub, GitLab and Bitbucket. No token: the
 * delivery proves itself with the app's webhook secret, checked on the raw body before anything
 * is parsed. A push to the source's branch queues a build of the pushed commit (which deploys it
 * when auto-deploy is on); a pull/merge request builds or removes its preview app (previews.ts);
 * everything else gets a 2xx saying why nothing was built.
 */
export async function registerWebhookReceiver(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: BODY_LIMIT }, (_req, body, done) => done(null, body));
    scope.post<{ Params: { id: string } }>(
      '/api/v1/webhooks/:id',
      { config: { auth: false }, schema: { hide: true }, bodyLimit: BODY_LIMIT },
      async (req, reply) => {
        const raw = req.body as Buffer | undefined;
        const appRow = await appById(ctx.db, req.params.id);
        const source = appRow ? await sources.sourceOf(ctx.db, appRow.id) : undefined;
        if (!appRow || !source) return fail(reply, 404, 'not_found', `no app "${req.params.id}" with a git source`);
        const provider = providerOf(req.headers);
        if (!provider) return fail(reply, 400, 'validation_failed', 'no provider event header (X-GitHub-Event, X-Gitlab-Event or X-Event-Key)', 'headers');
        if (!raw || raw.length === 0) return fail(reply, 400, 'validation_failed', 'the body is empty', 'body');
        const bad = verifyDelivery(provider, req.headers, raw, ctx.secrets.open(source.webhook_secret_sealed));
        if (bad) {
          req.log.warn({ app: appRow.id, provider }, `webhook refused: ${bad}`);
          return fail(reply, 401, 'bad_signature', bad);
        }
        let body: unknown;
        try {
          body = JSON.parse(raw.toString('utf8'));
        } catch {
          return fail(reply, 400, 'invalid_json', 'the body is not valid JSON', 'body');
        }
        const what = interpret(provider, req.headers, body);
        if (what.kind === 'ping') return reply.code(200).send({ ok: true, message: 'pong: the webhook secret matches' });
        if (what.kind === 'ignored') return reply.code(202).send({ ok: true, built: false, reason: what.reason });
        if (what.kind === 'push' && what.branch !== source.branch) {
          return reply.code(202).send({ ok: true, built: false, reason: `branch ${what.branch} is not the app's branch ${source.branch}` });
        }
        const fallback = what.kind === 'push' ? what.commit : `${what.number}:${what.action}:${what.commit ?? raw.length}`;
        const id = (deliveryId(provider, req.headers) ?? `${provider}:${fallback}`).slice(0, 200);
        // The delivery-id header is not signed: a captured delivery sent again under a new id would build
        // its (old) commit again. What the signature covers is the body, so a body acts once, whatever its id.
        const signedId = `body:${createHash('sha256').update(raw).digest('hex')}`;
        if (!(await sources.claimDelivery(ctx.db, appRow.id, signedId, provider))) {
          const seen = await sources.deliveryOf(ctx.db, appRow.id, signedId);
          req.log.warn({ app: appRow.id, provider, delivery: id }, 'webhook delivery refused: its signed body was already received');
          return reply.code(200).send({ ok: true, built: false, reason: 'this signed delivery was already received (a replay or a redelivery): nothing is built again', build_id: seen?.build_id ?? null });
        }
        if (!(await sources.claimDelivery(ctx.db, appRow.id, id, provider))) {
          const seen = await sources.deliveryOf(ctx.db, appRow.id, id);
          return reply.code(200).send({ ok: true, built: false, reason: `delivery ${id} was already received`, build_id: seen?.build_id ?? null });
        }
        if (what.kind === 'request') {
          const answer = await previewRequest(ctx, appRow, source, what, provider);
          if (typeof answer.body.build_id === 'string') {
            await sources.deliveryBuilt(ctx.db, appRow.id, id, answer.body.build_id);
            await sources.deliveryBuilt(ctx.db, appRow.id, signedId, answer.body.build_id);
          }
          return reply.code(answer.status).send(answer.body);
        }
        const b = await builds.insertBuild(ctx.db, {
          appId: appRow.id,
          slug: appRow.slug,
          source: 'git',
          status: 'queued',
          repoUrl: source.repo_url,
          branch: source.branch,
          vendorId: source.vendor_id,
          commit: { sha: what.commit, message: what.message, committer: what.committer },
          userId: null,
        });
        await sources.deliveryBuilt(ctx.db, appRow.id, id, b.id);
        await sources.deliveryBuilt(ctx.db, appRow.id, signedId, b.id);
        await ctx.events.record({
          actor: { system: 'webhooks' },
          project_id: appRow.project_id,
          app_id: appRow.id,
          kind: 'build.queued',
          message: `build #${b.number} queued (${provider} push of ${what.commit.slice(0, 7)} to ${what.branch})`,
          data: { build: b.number, build_id: b.id, delivery: id },
        });
        ctx.nudgeBuilds();
        return reply.code(202).send({ ok: true, built: true, reason: `push to ${what.branch}`, build_id: b.id, build: b.number });
      },
    );
  });
}
