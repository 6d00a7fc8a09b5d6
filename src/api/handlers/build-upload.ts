import { createWriteStream, promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { ApiContext, AuthUser } from '../context.js';
import { HttpError, conflict } from '../errors.js';
import * as builds from '../../store/builds.js';
import { ArchiveError, extractArchive } from '../../builder/index.js';
import { buildDir } from '../../config.js';
import { buildFor, oneBuildDto } from './build-common.js';
import { byUser } from '../../domain/events.js';

const ARCHIVE_TYPES = new Set(['application/octet-stream', 'application/gzip', 'application/x-gzip', 'application/x-tar', 'application/zip', 'application/x-compressed-tar']);
// After the limit, keep reading (and discarding) a little so the client sees the 413 instead of a reset.
const DRAIN_BYTES = 64 * 1024 * 1024;

class TooLarge extends Error {}

/** Streams the request body to `file`, failing once it passes `limit` bytes. */
function saveBody(raw: IncomingMessage, file: string, limit: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const out = createWriteStream(file, { mode: 0o600 });
    let size = 0;
    let over = false;
    const finish = (err: Error | null) => {
      raw.off('data', onData);
      if (err) {
        out.destroy();
        reject(err);
      } else out.end(() => resolve(size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (over) {
        if (size > limit + DRAIN_BYTES) {
          raw.destroy();
          finish(new TooLarge());
        }
        return;
      }
      if (size > limit) {
        over = true;
        out.destroy();
        return;
      }
      if (!out.write(chunk)) {
        raw.pause();
        out.once('drain', () => raw.resume());
      }
    };
    raw.on('data', onData);
    raw.once('end', () => (over ? finish(new TooLarge()) : finish(null)));
    raw.once('error', (err) => finish(err));
    raw.once('aborted', () => finish(new Error('upload aborted')));
    out.once('error', (err) => finish(err));
  });
}

/** Reads a request body to its end, keeping nothing (an error or an abort ends it too). */
function discardBody(raw: IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    if (raw.readableEnded) return resolve();
    raw.once('end', () => resolve());
    raw.once('error', () => resolve());
    raw.once('close', () => resolve());
    raw.resume();
  });
}

export function registerUpload(app: FastifyInstance, ctx: ApiContext) {
  const settings = ctx.config.build;
  app.post<{ Params: { id: string } }>(
    '/api/v1/builds/:id/upload',
    { config: { auth: true }, bodyLimit: settings.archive.maxArchiveBytes + DRAIN_BYTES, schema: { hide: true } },
    async (req, reply) => {
      const { build, app: a } = await buildFor(ctx, req.user as AuthUser, req.params.id, 'developer');
      if (build.status !== 'pending') throw conflict(`build #${build.number} is ${build.status}: a source can only be uploaded once, right after the build is created`);
      const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
      if (!ARCHIVE_TYPES.has(type)) {
        throw new HttpError(415, 'unsupported_media_type', 'send the archive as the raw body with Content-Type application/gzip, application/x-tar, application/zip or application/octet-stream');
      }
      const limit = settings.archive.maxArchiveBytes;
      // A declared size over the limit is refused without keeping a byte. A body within the drain
      // allowance is read to its end first: closing while the client still sends makes it fail
      // with a reset instead of seeing the 413 (fetch failed so, now and then, in the suite).
      // Only a client claiming more than that is cut off at once, rather than held open.
      const declared = Number(req.headers['content-length']);
      if (Number.isFinite(declared) && declared > limit) {
        if (declared <= limit + DRAIN_BYTES) await discardBody(req.raw);
        else reply.header('connection', 'close');
        throw new HttpError(413, 'payload_too_large', `the archive is over the limit of ${limit} bytes`);
      }
      const dir = buildDir(ctx.config.dataDir, build.id);
      await fs.rm(dir, { recursive: true, force: true });
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
      const file = join(dir, 'upload.bin');
      try {
        try {
          await saveBody(req.raw, file, limit);
        } catch (err) {
          if (err instanceof TooLarge) throw new HttpError(413, 'payload_too_large', `the archive is over the limit of ${limit} bytes`);
          throw new HttpError(400, 'upload_failed', `the upload did not complete: ${(err as Error).message}`);
        }
        try {
          await extractArchive(file, join(dir, 'src'), settings.archive);
        } catch (err) {
          if (err instanceof ArchiveError) {
            throw new HttpError(err.status, err.code, err.message, err.entry ? { entry: err.entry } : undefined);
          }
          throw err;
        }
        await fs.rm(file, { force: true });
      } catch (err) {
        await fs.rm(dir, { recursive: true, force: true });
        throw err;
      }
      if (!(await builds.transition(ctx.db, build.id, ['pending'], { status: 'queued', message: null }))) {
        await fs.rm(dir, { recursive: true, force: true });
        throw conflict(`build #${build.number} was canceled during the upload`);
      }
      await ctx.events.record({
        actor: byUser(req.user as AuthUser),
        project_id: a.project_id,
        app_id: a.id,
        kind: 'build.queued',
        message: `build #${build.number} queued (archive upload)`,
        data: { build: build.number, build_id: build.id },
      });
      // The answer is what the upload did (queued it), read before the build controller is told:
      // a free worker may pick it up at once.
      const answer = oneBuildDto(ctx, (await builds.buildById(ctx.db, build.id))!, a.slug);
      ctx.nudgeBuilds();
      reply.code(200);
      return answer;
    },
  );
}
