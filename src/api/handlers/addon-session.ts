import { Value } from '@sinclair/typebox/value';
import type { SocketHandler } from '../register.js';
import { badRequest, conflict } from '../errors.js';
import { AddonSessionInput } from '../contract/sockets.js';
import { ADDON_CLIENTS } from '../../domain/addons.js';
import type { AddonSession } from '../../domain/addon-session.js';
import { addonFor } from './addons.js';

/** A socket that sends no start message is closed after this long. */
const START_WAIT_MS = 30_000;
/** Output waits while this much is still unsent on the socket (a slow reader slows the client down, nothing piles up). */
const SEND_HIGH_WATER = 1 << 20;

const clientOf = (type: string) => Object.entries(ADDON_CLIENTS).find(([, t]) => t === type)?.[0];

/**
 * `/ws/addons/:id/session` (contract: addonSession): psql or redis-cli on an add-on, like
 * `heroku pg:psql`. Access, the client's type and the add-on's state are checked before the
 * upgrade (404, 400 naming `client`, 409); the add-on controller runs the client in a helper
 * container once the `start` message names its arguments. Input typed before the client is
 * attached is kept and sent once it is. A closed socket ends the session.
 */
export const addonSession: SocketHandler<'addonSession'> = {
  before: async (req, ctx) => {
    const a = await addonFor(ctx, req.user, req.params.id, req.query.project, 'developer');
    if (ADDON_CLIENTS[req.query.client] !== a.type) throw badRequest(`add-on "${a.name}" is ${a.type}: its client is ${clientOf(a.type)}, not ${req.query.client}`, 'client');
    if (a.status !== 'running') throw conflict(`add-on "${a.name}" is ${a.status}${a.message ? ` (${a.message})` : ''}: wait until it runs`, 'id');
  },
  open(socket, send, req, ctx) {
    const abort = new AbortController();
    const tty = req.query.tty ?? false;
    let closed = false;
    let started = false;
    let session: AddonSession | null = null;
    const pending: AddonSessionInput[] = [];
    const finish = (code = 1000, reason = '') => {
      if (closed) return;
      closed = true;
      clearTimeout(waitStart);
      abort.abort();
      socket.close(code, reason);
    };
    const refuse = (message: string) => {
      if (!closed) send({ error: { message } });
      finish(1008, 'bad message');
    };
    const waitStart = setTimeout(() => refuse('no start message: send {"type":"start","args":[...]} first'), START_WAIT_MS);
    const apply = (m: AddonSessionInput) => {
      if (m.type === 'input') session!.write(m.text);
      else if (m.type === 'eof' && !tty) session!.end();
      else if (m.type === 'resize' && tty) session!.resize(m.cols, m.rows);
    };
    const output = async (text: string, stream: 'stdout' | 'stderr' | null) => {
      while (socket.bufferedAmount > SEND_HIGH_WATER && !closed) await new Promise((r) => setTimeout(r, 20));
      if (!closed) send(stream ? { type: 'output', text, stream } : { type: 'output', text });
    };

    const run = async (args: string[]) => {
      try {
        const a = await addonFor(ctx, req.user, req.params.id, req.query.project, 'developer');
        session = await ctx.addonSession(a, { args, tty, timeoutS: req.query.timeout_s ?? 3600, onOutput: output }, abort.signal);
        for (const m of pending.splice(0)) apply(m);
        const end = await session.done;
        if (!closed) send({ type: 'exit', ...end });
        finish();
      } catch (err) {
        if (closed) return;
        req.raw.log.warn({ err }, 'add-on session failed');
        send({ error: { message: (err as Error).message } });
        finish(1011, 'internal error');
      }
    };

    socket.on('message', (data) => {
      let m: unknown;
      try {
        m = JSON.parse(String(data));
      } catch {
        return refuse('messages are JSON');
      }
      // Checked against the variant its type names, so the error points at the field at fault.
      const variant = AddonSessionInput.anyOf.find((v) => v.properties.type.const === (m as { type?: unknown } | null)?.type);
      if (!variant) return refuse('bad message at /type: one of start, input, eof, resize');
      const e = Value.Errors(variant, m).First();
      if (e || !Value.Check(AddonSessionInput, m)) return refuse(`bad message at ${e?.path || '/'}: ${e?.message ?? 'not valid'}`);
      if (m.type === 'start') {
        if (started) return;
        started = true;
        clearTimeout(waitStart);
        void run(m.args);
      } else if (session) apply(m);
      else pending.push(m);
    });
    socket.on('close', () => finish());
    socket.on('error', () => finish());
  },
};
