import { Type as T } from '@sinclair/typebox';
import * as S from './schemas.js';
import { IdParam, closed, type RouteDef } from './route-def.js';
import { Build } from './builds.js';

/** Git provider accounts and an app's git source (see src/domain/vendors.ts). Tokens go in, never out. */

const VendorKind = T.Union([T.Literal('github'), T.Literal('gitlab'), T.Literal('bitbucket')], { description: 'github, gitlab or bitbucket' });

export const Vendor = T.Object({
  id: T.String(),
  vendor: VendorKind,
  host: T.String({ description: 'where the token is sent, and only there' }),
  username: T.String(),
  created_at: S.Timestamp,
});

export const AppSource = T.Object({
  repo_url: T.String(),
  branch: T.String(),
  vendor: T.Union([Vendor, T.Null()]),
  webhook_url: T.String({ description: 'POST push events here (GET /api/v1/apps/{id}/webhook for the secret)' }),
  previews: T.Boolean({ description: 'pull/merge requests build preview apps <slug>-pr-<number>' }),
  preview_secrets: T.Boolean({ description: 'preview apps also get the secret config vars' }),
  updated_at: S.Timestamp,
});

export const vendorRoutes = {
  createVendor: {
    method: 'POST',
    path: '/api/v1/vendors',
    summary: 'Add a git provider account; its token is sealed at rest and never shown again',
    tag: 'vendors',
    access: 'user',
    status: 201,
    body: closed({
      vendor: VendorKind,
      host: T.Optional(T.String({ minLength: 1, maxLength: 260, description: 'a host name with an optional port (gitlab only; default gitlab.com)' })),
      username: T.Optional(T.String({ minLength: 1, maxLength: 128, pattern: '^[^:\\s]+$', description: 'a user name without ":" or spaces (bitbucket app passwords)' })),
      token: T.String({ minLength: 1, maxLength: 4096, pattern: '^[\\x21-\\x7e]+$', description: 'printable characters without spaces' }),
    }),
    response: Vendor,
  },
  listVendors: {
    method: 'GET',
    path: '/api/v1/vendors',
    summary: 'Your git provider accounts (without their tokens)',
    tag: 'vendors',
    access: 'user',
    response: T.Object({ items: T.Array(Vendor) }),
  },
  deleteVendor: {
    method: 'DELETE',
    path: '/api/v1/vendors/:id',
    summary: 'Remove a git provider account; app sources that named it stop using it',
    tag: 'vendors',
    access: 'user',
    params: IdParam,
    response: S.Ok,
  },
  getAppSource: {
    method: 'GET',
    path: '/api/v1/apps/:id/source',
    summary: "An app's git source",
    tag: 'vendors',
    access: 'viewer',
    params: IdParam,
    response: AppSource,
  },
  setAppSource: {
    method: 'PUT',
    path: '/api/v1/apps/:id/source',
    summary: "Set an app's git source: the repository and branch its webhook builds, and the account it clones with",
    tag: 'vendors',
    access: 'developer',
    params: IdParam,
    body: S.AppSourceInput,
    response: AppSource,
  },
  deleteAppSource: {
    method: 'DELETE',
    path: '/api/v1/apps/:id/source',
    summary: "Forget an app's git source (its webhook stops building)",
    tag: 'vendors',
    access: 'developer',
    params: IdParam,
    response: S.Ok,
  },
  buildAppSource: {
    method: 'POST',
    path: '/api/v1/apps/:id/source/build',
    summary: "Build the head of the source's branch now, with its account",
    tag: 'vendors',
    access: 'developer',
    status: 201,
    params: IdParam,
    response: Build,
  },
} as const satisfies Record<string, RouteDef>;
