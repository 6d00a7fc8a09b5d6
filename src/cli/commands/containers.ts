import type { Command } from 'commander';
import { client, globals } from '../session.js';
import { emit, table } from '../output.js';
import { int } from '../args.js';
import { ApiError } from '../../client/index.js';

/** `web=2 worker=3` → {web: 2, worker: 3}; a malformed pair is refused before any call. */
export function formationArgs(pairs: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of pairs) {
    const m = /^([A-Za-z0-9][A-Za-z0-9_-]{0,29})=(\d{1,3})$/.exec(p);
    if (!m) throw new Error(`"${p}" is not TYPE=REPLICAS (e.g. worker=2)`);
    out[m[1]] = Number(m[2]);
  }
  return out;
}

/** ps, ps:scale, logs: containers, the formation, and their logs. */
export function registerContainers(program: Command) {
  program
    .command('ps [app]')
    .description('list containers')
    .action(async (app: string | undefined, _o, cmd: Command) => {
      const res = await client(cmd).call('listContainers', { query: app ? { app } : {} });
      emit(globals(cmd), res.items, () =>
        table(
          res.items.map((x) => ({ ...x, app: x.app.slug, v: `v${x.release}`, traffic: x.in_rotation })),
          [['id', 'Id'], ['app', 'App'], ['v', 'Release'], ['process_type', 'Type'], ['replica', 'Replica'], ['status', 'Status'], ['traffic', 'Traffic'], ['address', 'Address'], ['updated_at', 'Updated']],
        ),
      );
    });

  program
    .command('ps:scale <app> [pairs...]')
    .description('replicas per process type: ps:scale APP web=2 worker=3 (types left out keep theirs); with no pairs, show them')
    .action(async (app: string, pairs: string[], _o, cmd: Command) => {
      const c = client(cmd);
      const body = formationArgs(pairs);
      const res = Object.keys(body).length
        ? await c.call('updateFormation', { params: { id: app }, body })
        : await c.call('getFormation', { params: { id: app } });
      emit(globals(cmd), res, () => table(Object.entries(res).map(([type, replicas]) => ({ type, replicas })), [['type', 'Type'], ['replicas', 'Replicas']]));
    });

  program
    .command('logs <app>')
    .description('show the kept log of all replicas, past and present (filters: --since, --grep, --type, --replica); -f follows live lines')
    .option('-f, --follow', 'keep printing new lines')
    .option('-n, --tail <n>', 'lines to show', int, 100)
    .option('--since <time>', 'from this time: 2h, 30m, 7d, or ISO 8601 (2026-01-02T03:04:05Z)')
    .option('--until <time>', 'up to this time (same forms)')
    .option('--grep <text>', 'only lines containing this text (any case)')
    .option('--type <type>', 'only this process type (web, worker, ...)')
    .option('--replica <n>', 'only this replica number', int)
    .action(async (app: string, o: { follow?: boolean; tail: number; since?: string; until?: string; grep?: string; type?: string; replica?: number }, cmd: Command) => {
      const c = client(cmd);
      const json = globals(cmd).json;
      const label = (l: { container?: string; process_type?: string; replica?: number }) =>
        l.process_type !== undefined && l.replica !== undefined ? `${l.process_type}.${l.replica}` : (l.container ?? '');
      const print = (l: { time: string; container?: string; process_type?: string; replica?: number; line: string }) =>
        process.stdout.write(json ? `${JSON.stringify(l)}\n` : `${l.time} ${label(l)} ${l.line}\n`);
      if (!o.follow) {
        const query = { limit: o.tail, since: o.since, until: o.until, grep: o.grep, type: o.type, replica: o.replica };
        for (const l of (await c.call('appLogs', { params: { id: app }, query })).lines) print(l);
        return;
      }
      if (o.since || o.until || o.grep || o.type || o.replica !== undefined) throw new Error('--follow shows live lines: use it without --since, --until, --grep, --type or --replica');
      const stop = new AbortController();
      process.once('SIGINT', () => stop.abort());
      let failed: Error | null = null;
      try {
        await c.stream('followAppLogs', { params: { id: app }, query: { tail: o.tail } }, (msg) => {
          if ('error' in msg) failed = new Error(msg.error.message);
          else print(msg);
        }, { signal: stop.signal });
      } catch (err) {
        if (err instanceof ApiError) throw new Error(`cannot follow logs: HTTP ${err.status}`, { cause: err });
        throw err;
      }
      if (failed) throw failed;
    });
}
