import type { SocketHandler } from '../register.js';
import { appSlugById } from '../../store/apps.js';
import * as runs from '../../store/runs.js';
import { oneRunDto, runFor } from './runs.js';

const POLL_MS = 150;

/**
 * `/ws/runs/:id` (contract: followRun): the output so far, then new output as the run controller
 * writes it, then one `{"type":"exit", run}` message and a normal close. Output is read from the
 * database by offset, so a reader that joins late misses nothing and sees nothing twice.
 */
export const followRun: SocketHandler<'followRun'> = {
  before: async (req, ctx) => void (await runFor(ctx, req.user, req.params.id)),
  open(socket, send, req, ctx) {
    const id = req.params.id;
    let sent = 0;
    let closed = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (code = 1000, reason = '') => {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
      socket.close(code, reason);
    };
    const pump = async () => {
      try {
        const r = await runs.runById(ctx.db, id);
        if (!r) return finish(1011, 'run deleted');
        if (r.output.length > sent && !closed) {
          send({ type: 'output', text: r.output.slice(sent) });
          sent = r.output.length;
        }
        if (r.status === 'succeeded' || r.status === 'failed') {
          const slug = (await appSlugById(ctx.db, r.app_id)) ?? '';
          if (!closed) send({ type: 'exit', run: await oneRunDto(ctx, r, slug) });
          return finish();
        }
        if (!closed) timer = setTimeout(() => void pump(), POLL_MS);
      } catch (err) {
        req.raw.log.warn({ err }, 'run output stream failed');
        finish(1011, 'internal error');
      }
    };
    socket.on('close', () => finish());
    socket.on('error', () => finish());
    void pump();
  },
};
