import type { Command } from 'commander';
import { client, globals } from '../session.js';
import { emit, table } from '../output.js';
import { int } from '../args.js';
import { ApiError } from '../../client/index.js';
import type { RouteOutput } from '../../api/contract/index.js';

type BerthEvent = RouteOutput<'listEvents'>['items'][number];

/** A user by name; Berth's own loops as system:NAME (apps, builds, ...); "-" for events older than actors. */
export const actorName = (e: BerthEvent) => (!e.actor ? '-' : e.actor.kind === 'user' ? e.actor.name : `system:${e.actor.name}`);
const time = (e: BerthEvent) => e.created_at.replace('T', ' ').replace(/\.\d+Z$|Z$/, '');
const row = (e: BerthEvent) => ({ time: time(e), app: e.app?.slug ?? '-', actor: actorName(e), kind: e.kind, message: e.message });
const COLUMNS: [string, string][] = [['time', 'Time'], ['app', 'App'], ['actor', 'Actor'], ['kind', 'Kind'], ['message', 'Message']];

/** berth events: what happened in the caller's projects, which app, who did it. */
export function registerEvents(program: Command) {
  program
    .command('events')
    .description('recent events of your projects (time, app, who, kind, message); --follow keeps printing them')
    .option('--app <app>', 'only this app (slug or id)')
    .option('-f, --follow', 'keep printing new events until Ctrl-C')
    .option('-n, --limit <n>', 'how many recent events (1-1000)', int, 50)
    .action(async (o: { app?: string; follow?: boolean; limit: number }, cmd: Command) => {
      const c = client(cmd);
      const g = globals(cmd);
      const list = () => c.call('listEvents', { query: { limit: o.limit, ...(o.app ? { app: o.app } : {}) } });
      if (!o.follow) {
        const res = await list();
        emit(g, res.items, () => (res.items.length ? table(res.items.map(row), COLUMNS) : 'No events.'));
        return;
      }
      // The socket carries every project's events: one app's are picked out by its id.
      const appId = o.app ? (await c.call('getApp', { params: { id: o.app } })).id : null;
      // Ids seen, not the highest: events that commit at nearly the same time may arrive out of id order.
      const seen = new Set<number>();
      let buffered: BerthEvent[] | null = [];
      const print = (e: BerthEvent) => {
        if (seen.has(e.id) || (appId && e.app_id !== appId)) return;
        seen.add(e.id);
        // Only the first moments can repeat (the recent list and the live stream overlap): keep it bounded.
        if (seen.size > 10_000) for (const id of [...seen].slice(0, 5_000)) seen.delete(id);
        const r = row(e);
        process.stdout.write(g.json ? `${JSON.stringify(e)}\n` : `${r.time}  ${r.app.padEnd(16)}  ${r.actor.padEnd(14)}  ${r.kind.padEnd(20)}  ${r.message}\n`);
      };
      const stop = new AbortController();
      process.once('SIGINT', () => stop.abort());
      let failed: unknown = null;
      try {
        await c.stream(
          'followEvents',
          {},
          (e) => (buffered ? buffered.push(e) : print(e)),
          {
            signal: stop.signal,
            // The recent ones are read once the socket listens, so nothing falls between the two.
            onOpen: () => {
              list().then(
                (res) => {
                  for (const e of res.items) print(e);
                  const held = buffered ?? [];
                  buffered = null;
                  for (const e of held) print(e);
                },
                (err) => {
                  failed = err;
                  stop.abort();
                },
              );
            },
          },
        );
      } catch (err) {
        if (err instanceof ApiError) throw new Error(`cannot follow events: HTTP ${err.status}`, { cause: err });
        throw err;
      }
      if (failed) throw failed;
    });
}
