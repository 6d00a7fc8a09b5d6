import type { Command } from 'commander';
import { client, globals } from '../session.js';
import { emit, table } from '../output.js';

export function registerNotify(program: Command) {
  const notify = program.command('notify').description("where an app's deploys, failures and crashes are told");
  notify
    .command('add <app>')
    .description('add a Slack incoming webhook (--slack) or a signed generic webhook (--webhook)')
    .option('--slack <url>', 'a Slack incoming-webhook URL')
    .option('--webhook <url>', 'any URL; each POST is signed: X-Berth-Signature: sha256=HMAC-SHA256(secret, body)')
    .action(async (app: string, o: { slack?: string; webhook?: string }, cmd: Command) => {
      if (!!o.slack === !!o.webhook) throw new Error('give one of --slack URL or --webhook URL');
      const t = await client(cmd).call('addNotification', {
        params: { id: app },
        body: o.slack ? { kind: 'slack', url: o.slack } : { kind: 'webhook', url: o.webhook! },
      });
      emit(globals(cmd), t, () =>
        [`Added ${t.kind} target ${t.id} (${t.url}) for: ${t.events.join(', ')}.`, ...(t.secret ? [`Signing secret (shown once): ${t.secret}`] : [])].join('\n'),
      );
    });
  notify
    .command('ls <app>')
    .description("an app's targets")
    .action(async (app: string, _o, cmd: Command) => {
      const res = await client(cmd).call('listNotifications', { params: { id: app } });
      emit(globals(cmd), res.items, () => table(res.items, [['id', 'Id'], ['kind', 'Kind'], ['url', 'URL'], ['created_at', 'Created']]));
    });
  notify
    .command('rm <app> <target>')
    .description('remove a target')
    .action(async (app: string, target: string, _o, cmd: Command) => {
      await client(cmd).call('removeNotification', { params: { id: app, target } });
      emit(globals(cmd), { ok: true }, () => `Removed ${target}.`);
    });
  notify
    .command('deliveries <app> <target>')
    .description('what was sent to a target, with attempts and the last error')
    .action(async (app: string, target: string, _o, cmd: Command) => {
      const res = await client(cmd).call('listNotificationDeliveries', { params: { id: app, target }, query: {} });
      emit(globals(cmd), res.items, () =>
        table(res.items, [['created_at', 'Time'], ['event', 'Event'], ['status', 'Status'], ['attempts', 'Attempts'], ['last_error', 'Last error']]),
      );
    });
}
