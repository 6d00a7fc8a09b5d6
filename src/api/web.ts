import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import fastifyStatic from '@fastify/static';
import type { ApiContext } from './context.js';

/** Where `npm run build` puts the dashboard (vite.config.ts): dist/web beside dist/src. */
export const WEB_DIR = resolve(fileURLToPath(import.meta.url), '../../../web');

/**
 * Everything the page may load comes from this origin; no inline script or style, no plugins, no
 * framing. User strings are rendered as text by React; this is the second wall if one ever is not.
 */
export const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** The screens the single-page app routes itself; each answers index.html so a shared link or a reload works. */
const SCREENS = ['/', '/login', '/projects', '/projects/*', '/apps/*', '/addons/*', '/builds/*', '/events', '/settings/*', '/admin/*', '/nodes', '/nodes/*'];

/** Paths that are never the dashboard's: an unknown one answers the JSON 404 that API clients parse. */
const NOT_SCREENS = /^\/(api|ws|git|assets)(\/|$)/;

/** Whether an unknown URL is one a browser may have typed (the dashboard shows its not-found page). */
export const isScreenPath = (method: string, url: string) => (method === 'GET' || method === 'HEAD') && !NOT_SCREENS.test(url);

/**
 * Serves the dashboard at / : hashed assets cached for a year, index.html never cached, the API
 * unchanged under /api. Without a built dashboard (only `tsc` ran) the API works alone.
 */
export async function registerWeb(app: FastifyInstance, ctx: ApiContext): Promise<((reply: FastifyReply) => FastifyReply) | null> {
  const indexFile = join(WEB_DIR, 'index.html');
  if (!existsSync(indexFile)) {
    ctx.log.warn({ dir: WEB_DIR }, 'the dashboard is not built (npm run build); serving the API only');
    return null;
  }
  const index = readFileSync(indexFile);
  const page = (reply: FastifyReply) =>
    reply
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('x-frame-options', 'DENY')
      .header('cache-control', 'no-cache')
      .type('text/html; charset=utf-8')
      .send(index);
  for (const url of SCREENS) app.get(url, { schema: { hide: true }, config: { auth: false } }, async (_req, reply) => page(reply));
  await app.register(fastifyStatic, {
    root: join(WEB_DIR, 'assets'),
    prefix: '/assets/',
    // File names carry a content hash: a changed file is a new URL.
    immutable: true,
    maxAge: '365d',
    index: false,
    wildcard: true,
    // npm run build writes .br and .gz beside each asset (web/precompress.mjs).
    preCompressed: true,
  });
  for (const file of ['favicon.svg']) {
    if (existsSync(join(WEB_DIR, file))) {
      const body = readFileSync(join(WEB_DIR, file));
      app.get(`/${file}`, { schema: { hide: true }, config: { auth: false } }, async (_req, reply) => reply.type('image/svg+xml').header('cache-control', 'public, max-age=86400').send(body));
    }
  }
  return page;
}
