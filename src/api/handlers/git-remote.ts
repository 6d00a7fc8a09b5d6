import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiContext } from '../context.js';
import { findApp } from '../../store/apps.js';
import { createToken, deleteToken, userForToken } from '../../store/users.js';
import { newToken } from '../../lib/crypto.js';
import { ensureBareRepo, handleGitHttp } from '../../builder/index.js';
import { bareRepo, gitRoot } from '../../config.js';
import { bearerToken } from '../bearer.js';

/** The post-receive hook: queues a build of the pushed commit and streams its log to the pusher. */
export const PUSH_HOOK = fileURLToPath(new URL('../../cli/push-hook.js', import.meta.url));

const REPO_PATH = /^([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)\.git(\/[A-Za-z0-9_./-]*)$/;

function deny(reply: FastifyReply, status: number, text: string) {
  if (status === 401) reply.header('www-authenticate', 'Basic realm="Berth", charset="UTF-8"');
  return reply.code(status).type('text/plain; charset=utf-8').send(`${text}\n`);
}

/** The password of HTTP Basic (any username) or a Bearer header: a Berth API token. */
function tokenOf(req: FastifyRequest): string | null {
  const h = req.headers.authorization ?? '';
  const bearer = bearerToken(h);
  if (bearer) return bearer;
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(h);
  if (!basic) return null;
  const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  return i >= 0 && decoded.slice(i + 1) ? decoded.slice(i + 1) : null;
}

/** How the hook reaches this server: the address the push itself came in on. */
function localApiUrl(req: FastifyRequest): string {
  let host = req.socket.localAddress ?? '127.0.0.1';
  if (host.startsWith('::ffff:')) host = host.slice(7);
  if (host === '0.0.0.0' || host === '::') host = '127.0.0.1';
  return `http://${host.includes(':') ? `[${host}]` : host}:${req.socket.localPort}`;
}

/**
 * `http(s)://<berth>/git/<slug>.git`: each app's git remote over smart HTTP, served by git's own
 * http-backend. Reading needs any role in the app's project, pushing needs developer; a push to
 * main or master builds the pushed commit (see src/cli/push-hook.ts).
 */
export function registerGitRemote(app: FastifyInstance, ctx: ApiContext) {
  const settings = ctx.config.build;
  app.route<{ Params: { '*': string } }>({
    method: ['GET', 'POST'],
    url: '/git/*',
    config: { auth: false },
    schema: { hide: true },
    handler: async (req, reply) => {
      const m = REPO_PATH.exec(req.params['*']);
      if (!m) return deny(reply, 404, 'Not Found');
      const [, slug, rest] = m;
      const query = req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '';
      const push = rest === '/git-receive-pack' || new URLSearchParams(query).get('service') === 'git-receive-pack';

      const token = tokenOf(req);
      if (!token) return deny(reply, 401, 'authentication required: use a Berth API token as the password');
      const user = await userForToken(ctx.db, token);
      if (!user) return deny(reply, 401, 'the token is invalid, expired or revoked');
      const a = await findApp(ctx.db, user.id, slug);
      if (!a) return deny(reply, 404, `repository ${slug}.git not found`);
      if (push && a.role === 'viewer') {
        return deny(reply, 403, `your role in project "${a.project_name}" is viewer; you need developer to push to ${slug}`);
      }

      const repo = bareRepo(ctx.config.dataDir, a.id);
      await ensureBareRepo(repo, { postReceive: [process.execPath, PUSH_HOOK] });

      const env: Record<string, string> = {};
      let pushToken: { id: string } | null = null;
      if (rest === '/git-receive-pack') {
        // The hook acts for the pusher with a token that lives only as long as this push.
        const value = newToken();
        const expiresAt = new Date(Date.now() + settings.timeoutMs + 10 * 60_000).toISOString();
        pushToken = await createToken(ctx.db, { userId: user.id, name: `git push to ${slug}`, token: value, expiresAt });
        Object.assign(env, { BERTH_PUSH_API: localApiUrl(req), BERTH_PUSH_TOKEN: value, BERTH_PUSH_APP: a.id });
      }
      const abort = new AbortController();
      reply.raw.once('close', () => {
        if (!reply.raw.writableFinished) abort.abort();
        if (pushToken) void deleteToken(ctx.db, user.id, pushToken.id).catch(() => {});
      });
      const res = await handleGitHttp({
        method: req.method,
        pathInfo: `/${a.id}.git${rest}`,
        query,
        headers: req.headers,
        body: req.raw,
        projectRoot: gitRoot(ctx.config.dataDir),
        remoteUser: user.username,
        env,
        timeoutMs: settings.timeoutMs + 10 * 60_000,
        signal: abort.signal,
      });
      reply.code(res.status).headers(res.headers);
      return reply.send(res.body);
    },
  });
}
