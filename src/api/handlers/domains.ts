import type { Handlers } from '../register.js';
import type { ApiContext } from '../context.js';
import type { RouteOutput } from '../contract.js';
import { appFor } from '../access.js';
import { badRequest, conflict, notFound } from '../errors.js';
import * as domains from '../../store/domains.js';
import type { DomainRow } from '../../store/domains.js';
import { certificatesForHosts, type CertificateRow } from '../../store/certificates.js';
import { isUniqueViolation, now } from '../../store/db.js';
import { newId } from '../../lib/ids.js';
import { randomBytes } from 'node:crypto';
import { CHALLENGE_PREFIX, checkDomain, hostnameProblem } from '../../domain/custom-domains.js';

function domainDto(ctx: ApiContext, d: DomainRow, slug: string, cert?: CertificateRow): RouteOutput<'addDomain'> {
  const path = `${CHALLENGE_PREFIX}${d.token}`;
  return {
    hostname: d.hostname,
    app: slug,
    verified: !!d.verified,
    message: d.message,
    verification: {
      path,
      token: d.token,
      instructions: d.verified
        ? 'verified: the router serves this domain'
        : `point ${d.hostname} at this server (an A/AAAA record to its address, or a CNAME to <slug>.${ctx.config.routerDomain}); Berth checks http://${d.hostname}${path} and routes the domain once it answers`,
    },
    checked_at: d.checked_at,
    verified_at: d.verified_at,
    created_at: d.created_at,
    certificate: cert ? { issuer: cert.issuer, status: cert.status, not_after: cert.not_after, message: cert.message } : null,
  };
}

/** Domains with their certificates' state (one query for the lot). */
async function domainDtos(ctx: ApiContext, rows: DomainRow[], slug: string) {
  const certs = new Map((await certificatesForHosts(ctx.db, rows.map((d) => d.hostname))).map((c) => [c.hostname, c]));
  return rows.map((d) => domainDto(ctx, d, slug, certs.get(d.hostname)));
}

async function domainOf(ctx: ApiContext, appId: string, hostname: string) {
  const d = await domains.domainByHost(ctx.db, hostname.toLowerCase());
  if (!d || d.app_id !== appId) throw notFound('domain', hostname);
  return d;
}

/** Runs the check now and records it; the router picks a verified domain up at once. */
async function verify(ctx: ApiContext, d: DomainRow): Promise<DomainRow> {
  await ctx.syncRoutes();
  const res = await checkDomain(d, ctx.config.routerHttpPort);
  await domains.recordCheck(ctx.db, d.id, res.ok, res.message);
  if (res.ok) await ctx.syncRoutes();
  return (await domains.domainByHost(ctx.db, d.hostname))!;
}

export const domainHandlers = {
  async addDomain({ user, params, body }, ctx) {
    const app = await appFor(ctx, user, params.id, 'developer');
    const hostname = body.hostname.toLowerCase().replace(/\.$/, '');
    const problem = hostnameProblem(hostname, ctx.config.routerDomain);
    if (problem) throw badRequest(`hostname ${problem}`, 'hostname');
    const row: DomainRow = {
      id: newId('dom'),
      app_id: app.id,
      hostname,
      token: randomBytes(16).toString('hex'),
      verified: 0,
      message: null,
      checked_at: null,
      verified_at: null,
      created_at: now(),
    };
    try {
      await domains.insertDomain(ctx.db, row);
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict(`${hostname} is already in use`, 'hostname');
      throw err;
    }
    await ctx.events.record({ project_id: app.project_id, app_id: app.id, kind: 'domain.added', message: `${hostname} added to ${app.slug}` });
    return (await domainDtos(ctx, [await verify(ctx, row)], app.slug))[0];
  },

  async listDomains({ user, params }, ctx) {
    const app = await appFor(ctx, user, params.id);
    return { items: await domainDtos(ctx, await domains.domainsOfApp(ctx.db, app.id), app.slug) };
  },

  async verifyDomain({ user, params }, ctx) {
    const app = await appFor(ctx, user, params.id, 'developer');
    return (await domainDtos(ctx, [await verify(ctx, await domainOf(ctx, app.id, params.hostname))], app.slug))[0];
  },

  async removeDomain({ user, params }, ctx) {
    const app = await appFor(ctx, user, params.id, 'developer');
    const d = await domainOf(ctx, app.id, params.hostname);
    await domains.deleteDomain(ctx.db, d.id);
    await ctx.syncRoutes();
    await ctx.events.record({ project_id: app.project_id, app_id: app.id, kind: 'domain.removed', message: `${d.hostname} removed from ${app.slug}` });
    return { ok: true };
  },
} satisfies Handlers;
