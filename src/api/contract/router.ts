import { Type as T } from '@sinclair/typebox';
import * as S from './schemas.js';
import type { RouteDef } from './route-def.js';

export const RouterCa = T.Object({
  /** PEM, for a trust store (the same bytes as GET /api/v1/router/ca.pem). */
  pem: T.String(),
  subject: T.String(),
  /** SHA-256 of the certificate, as browsers show it. */
  fingerprint_sha256: T.String(),
  not_after: S.Timestamp,
});

/** Which certificate a host has and how its issuance stands (see src/controllers/certificates.ts). */
export const CertificateState = T.Object({
  issuer: T.Union([T.Literal('berth-ca'), T.Literal('acme')]),
  status: T.Union([T.Literal('pending'), T.Literal('issued'), T.Literal('failed')]),
  not_after: T.Union([S.Timestamp, T.Null()]),
  /** Why the last issuance or renewal failed. */
  message: T.Union([T.String(), T.Null()]),
});

/** The edge router's TLS: Berth's own CA, which signs certificates for private names. */
export const routerRoutes = {
  getRouterCa: {
    method: 'GET',
    path: '/api/v1/router/ca',
    summary: "Berth's CA certificate: trust it to use HTTPS on private names (*.localhost, internal domains)",
    tag: 'router',
    access: 'public',
    // A CA certificate is public by nature; users fetch it before they have a token.
    auth: false,
    response: RouterCa,
  },
  getRouterCaPem: {
    method: 'GET',
    path: '/api/v1/router/ca.pem',
    summary: "Berth's CA certificate as a PEM file (for curl -o and browsers' import dialogs)",
    tag: 'router',
    access: 'public',
    auth: false,
    response: T.String({ description: 'PEM' }),
    produces: 'application/x-pem-file',
    headers: { 'content-disposition': 'attachment; filename="berth-ca.pem"' },
  },
} as const satisfies Record<string, RouteDef>;
