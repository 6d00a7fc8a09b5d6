import { Type as T } from '@sinclair/typebox';
import * as S from './schemas.js';
import { closed, type RouteDef } from './route-def.js';

/** Images Berth built or pulled, and their garbage collection (src/controllers/images.ts). */
const Nullable = <X extends Parameters<typeof T.Union>[0][number]>(s: X) => T.Union([s, T.Null()]);

export const Image = T.Object({
  image: T.String(),
  app: T.Object({ id: T.String(), slug: T.String() }),
  source: T.Union([T.Literal('build'), T.Literal('registry'), T.Literal('engine')], { description: 'build: built by Berth; registry: pulled from a registry; engine: was already on the engine' }),
  build: Nullable(T.Object({ id: T.String(), number: T.Integer(), commit_sha: Nullable(T.String()) })),
  present: T.Boolean({ description: 'on the engine now' }),
  size: Nullable(T.Integer({ description: 'bytes' })),
  created: Nullable(T.String()),
  releases: T.Array(T.Integer(), { description: 'versions of the releases that use it' }),
  live: T.Boolean(),
  kept: T.Boolean({ description: 'garbage collection keeps it (a recent, live, rollback or pending release needs it)' }),
});

export const imageRoutes = {
  listImages: {
    method: 'GET',
    path: '/api/v1/images',
    summary: 'Images Berth built or pulled for the apps you can see, with their source and the releases that use them',
    tag: 'images',
    access: 'viewer',
    query: closed({ app: T.Optional(S.Id) }),
    response: T.Object({ items: T.Array(Image), keep_releases: T.Integer() }),
  },
  pruneImages: {
    method: 'POST',
    path: '/api/v1/images/prune',
    summary: 'Remove now the images no release needs (of the apps you may change, or of one app)',
    tag: 'images',
    access: 'developer',
    body: T.Object({ app: T.Optional(S.Id) }, { additionalProperties: false, 'x-empty-ok': true }),
    response: T.Object({
      removed: T.Array(T.Object({ image: T.String(), app: T.String(), size: Nullable(T.Integer()) })),
      freed_bytes: T.Integer(),
      skipped: T.Array(T.Object({ image: T.String(), reason: T.String() })),
    }),
  },
} as const satisfies Record<string, RouteDef>;
