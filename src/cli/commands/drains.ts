import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { client, globals } from '../session.js';
import { emit, table } from '../output.js';


/** drains, drains:add, drains:remove: where an app's log lines are sent, and how delivery goes. */
export function registerDrains(program: Command) {
  program
    .command('drains <app>')
    .description("an app's log drains with their delivery status (last success, last error, lines dropped)")
    .action(async (app: string, _o, cmd: Command) => {
      const res = await client(cmd).call('listDrains', { params: { id: app } });
      emit(globals(cmd), res.items, () =>
        table(
          res.items.map((d) => ({
            id: d.id,
            url: d.url,
            sent: d.status.sent,
            dropped: d.status.dropped,
            ok: d.status.last_success_at ?? '-',
            error: d.status.last_error ? `${d.status.last_error} (${d.status.last_error_at})` : '-',
          })),
          [['id', 'Id'], ['url', 'URL'], ['sent', 'Sent'], ['dropped', 'Dropped'], ['ok', 'Last success'], ['error', 'Last error']],
        ),
      );
    });
  program
    .command('drains:add <app> <url>')
    .description("send the app's log lines to syslog+tls://host:port (RFC 5424 over TLS) or https://... (batched NDJSON POSTs)")
    .option('--ca <file>', "PEM certificate(s) the receiver's certificate must chain to, instead of the system's roots")
    .action(async (app: string, url: string, o: { ca?: string }, cmd: Command) => {
      const ca = o.ca ? await readFile(o.ca, 'utf8') : undefined;
      const d = await client(cmd).call('addDrain', { params: { id: app }, body: { url, ...(ca ? { ca } : {}) } });
      emit(globals(cmd), d, () => `Added drain ${d.id}: ${app}'s logs now go to ${d.url}.`);
    });
  program
    .command('drains:remove <app> <drain>')
    .description('remove a log drain (its id from `berth drains APP`)')
    .action(async (app: string, drain: string, _o, cmd: Command) => {
      await client(cmd).call('removeDrain', { params: { id: app, drain } });
      emit(globals(cmd), { ok: true }, () => `Removed drain ${drain}.`);
    });
}
