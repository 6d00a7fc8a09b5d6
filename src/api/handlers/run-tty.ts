import { StringDecoder } from 'node:string_decoder';
import { appSlugById } from '../../store/apps.js';
import type { SocketHandler } from '../register.js';
import { appFor } from '../access.js';
import { badRequest } from '../errors.js';
import * as runs from '../../store/runs.js';
import { oneRunDto, runFor } from './runs.js';

const POLL_MS = 100;

/**
 * `/ws/runs/:id/tty` (contract: attachRun): the terminal of an interactive run. Once the run
 * controller has started its container, the socket is attached to it: output (what it wrote so
 * far first) goes out as `output` messages; `input` messages go to its stdin, `resize` messages
 * size its terminal. When the command ends, one `exit` message with the run, then a normal close.
 */
export const attachRun: SocketHandler<'attachRun'> = {
  before: async (req, ctx) => {
    const { run, app } = await runFor(ctx, req.user, req.params.id);
    await appFor(ctx, req.user, app.id, 'developer');
    if (run.tty !== 1) throw badRequest('this run is not interactive: follow its output on /ws/runs/{id}', 'id');
  },
  open(socket, send, req, ctx) {
    const id = req.params.id;
    const abort = new AbortController();
    let closed = false;
    let term: NodeJS.ReadWriteStream | null = null;
    let dockerId: string | null = null;
    const pending: { type: string; text?: string; cols?: number; rows?: number }[] = [];
    const finish = (code = 1000, reason = '') => {
      if (closed) return;
      closed = true;
      abort.abort();
      socket.close(code, reason);
    };
    const apply = (m: (typeof pending)[number]) => {
      if (m.type === 'input' && typeof m.text === 'string') term?.write(m.text);
      else if (m.type === 'resize' && dockerId && Number.isInteger(m.cols) && Number.isInteger(m.rows)) {
        void ctx.runtime.resize(dockerId, Math.min(m.cols!, 1000), Math.min(m.rows!, 1000)).catch(() => {});
      }
    };
    socket.on('message', (data) => {
      let m: (typeof pending)[number];
      try {
        m = JSON.parse(String(data));
      } catch {
        return;
      }
      if (term) apply(m);
      else pending.push(m);
    });
    socket.on('close', () => finish());
    socket.on('error', () => finish());

    const exit = async () => {
      for (;;) {
        const r = await runs.runById(ctx.db, id);
        if (!r) return finish(1011, 'run deleted');
        if (r.status === 'succeeded' || r.status === 'failed') {
          const slug = (await appSlugById(ctx.db, r.app_id)) ?? '';
          if (!closed) send({ type: 'exit', run: await oneRunDto(ctx, r, slug) });
          return finish();
        }
        if (closed) return;
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
    };

    void (async () => {
      try {
        // Wait for the run controller to start the container.
        for (;;) {
          if (closed) return;
          const r = await runs.runById(ctx.db, id);
          if (!r || r.status === 'succeeded' || r.status === 'failed') return void (await exit());
          const info = r.status === 'running' ? await ctx.runtime.inspectContainer(r.container_name) : null;
          if (info && info.state !== 'created') {
            dockerId = info.id;
            break;
          }
          await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        }
        term = await ctx.runtime.attach(dockerId, abort.signal);
        for (const m of pending.splice(0)) apply(m);
        const decoder = new StringDecoder('utf8');
        term.on('data', (chunk: Buffer) => {
          const text = decoder.write(chunk);
          if (text && !closed) send({ type: 'output', text });
        });
        term.on('error', () => {});
        term.on('end', () => void exit());
      } catch (err) {
        req.raw.log.warn({ err }, 'run terminal failed');
        if (!closed) send({ error: { message: (err as Error).message } });
        finish(1011, 'internal error');
      }
    })();
  },
};
