import type { ApiContext } from '../context.js';
import { appSlugById } from '../../store/apps.js';
import type { SocketHandler } from '../register.js';
import * as builds from '../../store/builds.js';
import { buildFor, oneBuildDto } from './build-common.js';

/**
 * `/ws/builds/:id/logs` (contract: followBuildLog): every line so far, then live lines, then one
 * final `{"type":"status",...}` message when the build has finished, then a normal close. Lines
 * are always read from the database, in seq order, so a reader that joins mid-build misses nothing
 * and sees nothing twice.
 */
export const followBuildLog: SocketHandler<'followBuildLog'> = {
  // Checked before the upgrade, so a bad id or a stranger gets a plain HTTP 404.
  before: async (req, ctx) => void (await buildFor(ctx, req.user, req.params.id)),
  open(socket, sendMsg, req, ctx) {
    const id = req.params.id;
    let last = 0;
    let closed = false;
    let busy = false;
    let again = false;

    const send: typeof sendMsg = (msg) => {
      if (!closed) sendMsg(msg);
    };
    const finish = (code = 1000, reason = '') => {
      if (closed) return;
      closed = true;
      unsubscribe();
      clearInterval(poll);
      socket.close(code, reason);
    };
    const pump = async () => {
      if (busy) {
        again = true;
        return;
      }
      busy = true;
      try {
        do {
          again = false;
          // Status before lines: if it is final, every line was written before it was.
          const b = await builds.buildById(ctx.db, id);
          for (;;) {
            const lines = await builds.logsAfter(ctx.db, id, last, 1000);
            for (const l of lines) send({ type: 'line', seq: l.seq, line: l.line, time: l.created_at });
            if (lines.length) last = lines[lines.length - 1].seq;
            if (lines.length < 1000) break;
          }
          if (!b) return finish(1011, 'build deleted');
          if (builds.isFinished(b.status)) {
            const dto = await oneBuildDto(ctx, b, await slugOf(ctx, b.app_id));
            send({ type: 'status', status: b.status, message: b.message, build: dto });
            return finish();
          }
        } while (again && !closed);
      } catch (err) {
        req.raw.log.warn({ err }, 'build log stream failed');
        finish(1011, 'internal error');
      } finally {
        busy = false;
      }
    };
    const unsubscribe = ctx.buildLogs.subscribe(id, () => void pump());
    // The hub covers this process; the poll covers anything it could miss.
    const poll = setInterval(() => void pump(), 1000);
    socket.on('close', () => finish());
    socket.on('error', () => finish());
    void pump();
  },
};

async function slugOf(ctx: ApiContext, appId: string): Promise<string> {
  return (await appSlugById(ctx.db, appId)) ?? '';
}
