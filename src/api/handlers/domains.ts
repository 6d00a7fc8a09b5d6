import type { Handlers } from '../register.js';
import type { ApiContext } from '../context.js';
import type { RouteOutput } from '../contract/index.js';
import { appFor } from '../access.js';
import { badRequest, conflict, notFound } from '../errors.js';
import * as domains from '../../store/domains.js';
import type { DomainRow } from '../../store/domains.js';
import { certificatesForHosts, type CertificateRow } from '../../store/certificates.js';
import { isUniqueViolation, now } from '../../store/db.js';
import { newId } from '../../lib/ids.js';
import { randomBytes } from 'node:crypto';
import { CHALLENGE_PREFIX, checkDomain, hostnameProblem, isControlHost, txtRecordName } from '../../domain/custom-domains.js';

function domainDto(ctx: ApiContext, d: DomainRow, slug: string, cert?: CertificateRow): RouteOutput<'addDomain'> {
  const path = `${CHALLENGE_PREFIX}${d.token}`;
  return {
    hostname: d.hostname,
    app: slug,
    verified: !!d.verified,
    message: d.message,
    verified_by: d.verified_by,
    verification: {
      path,
      token: d.token,
      txt: { name: txtRecordName(d.hostname), value: d.token },
      methods: [...ctx.config.domainVerify],
      instructions: d.verified
        ? 'verified: the router serves this domain'
        : [
            ctx.config.domainVerify.includes('dns') ? `add a TXT record ${txtRecordName(d.hostname)} with the value ${d.token} (proves the name is yours)` : null,
            ctx.config.domainVerify.includes('http') ? `point ${d.hostname} at this server and Berth checks http://${d.hostname}${path}` : null,
          ]
            .filter(Boolean)
            .join(', or ') +
          `; an A/AAAA record to this server's address, or a CNAME to <slug>.${ctx.config.routerDomain}, routes it once verified`,
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
  const c = ctx.config;
  const res = await checkDomain(d, { routerHttpPort: c.routerHttpPort, methods: c.domainVerify, resolver: c.dnsResolver });
  await domains.recordCheck(ctx.db, d.id, res.by, res.message);
  if (res.by) await ctx.syncRoutes();
  return (await domains.domainByHost(ctx.db, d.hostname))!;
}

export const domainHandlers = {
  async addDomain({ user, params, body }, ctx) {
    const app = await appFor(ctx, user, params.id, 'developer');
    const hostname = body.hostname.toLowerCase().replace(/\.$/, '');
    const problem = hostnameProblem(hostname, ctx.config.routerDomain);
    if (problem) throw badRequest(`hostname ${problem}`, 'hostname');
    if (isControlHost(hostname, ctx.config.controlHosts)) throw conflict(`${hostname} is reserved: this Berth's dashboard is served there`, 'hostname');
    const row: DomainRow = {
      id: newId('dom'),
      app_id: app.id,
      hostname,
      token: randomBytes(16).toString('hex'),
      verified: 0,
      verified_by: null,
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
