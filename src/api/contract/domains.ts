import { Type as T } from '@sinclair/typebox';
import * as S from './schemas.js';
import { IdParam, closed, type RouteDef } from './route-def.js';
import { CertificateState } from './router.js';

const VerifyMethod = T.Union([T.Literal('dns'), T.Literal('http')]);

export const Domain = T.Object({
  hostname: T.String(),
  app: T.String(),
  verified: T.Boolean(),
  /** Why the last check failed. */
  message: T.Union([T.String(), T.Null()]),
  /** How the claim was proven: a TXT record ('dns') or the router's answer for its host ('http'). (A string: a nullable enum trips OpenAPI client generators.) */
  verified_by: T.Union([T.String({ description: "'dns' or 'http'" }), T.Null()]),
  verification: T.Object({
    path: T.String(),
    token: T.String(),
    /** The TXT record that proves the claim: `_berth-challenge.<hostname>` = token. */
    txt: T.Object({ name: T.String(), value: T.String() }),
    /** The proofs this server accepts (BERTH_DOMAIN_VERIFY). */
    methods: T.Array(VerifyMethod),
    instructions: T.String(),
  }),
  checked_at: T.Union([S.Timestamp, T.Null()]),
  verified_at: T.Union([S.Timestamp, T.Null()]),
  created_at: S.Timestamp,
  /** HTTPS for this domain once verified; null until then. */
  certificate: T.Union([CertificateState, T.Null()]),
});

const HostParam = closed({ id: S.Id, hostname: T.String({ minLength: 1, maxLength: 253 }) });

/** Custom domains: routed once verified (see src/controllers/domains.ts). */
export const domainRoutes = {
  addDomain: {
    method: 'POST',
    path: '/api/v1/apps/:id/domains',
    summary: 'Add a custom domain; it is routed once its DNS points here',
    tag: 'domains',
    access: 'developer',
    status: 201,
    params: IdParam,
    body: closed({ hostname: T.String({ minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9.-]+$', description: 'a DNS name like www.example.com' }) }),
    response: Domain,
  },
  listDomains: {
    method: 'GET',
    path: '/api/v1/apps/:id/domains',
    summary: "An app's custom domains",
    tag: 'domains',
    access: 'viewer',
    params: IdParam,
    response: T.Object({ items: T.Array(Domain) }),
  },
  verifyDomain: {
    method: 'POST',
    path: '/api/v1/apps/:id/domains/:hostname/verify',
    summary: 'Check a custom domain now',
    tag: 'domains',
    access: 'developer',
    params: HostParam,
    response: Domain,
  },
  removeDomain: {
    method: 'DELETE',
    path: '/api/v1/apps/:id/domains/:hostname',
    summary: 'Remove a custom domain',
    tag: 'domains',
    access: 'developer',
    params: HostParam,
    response: S.Ok,
  },
} as const satisfies Record<string, RouteDef>;
