import type { Command } from 'commander';
import type { BerthClient } from '../../client/index.js';
import type { RouteOutput } from '../../api/contract/index.js';
import { client, globals } from '../session.js';
import { emit, table } from '../output.js';
import { rawTerminal } from '../terminal.js';

type Run = RouteOutput<'getRun'>;

/** Prints a run's output as it comes (WebSocket; polling if the socket fails) and returns the finished run. */
async function followRun(c: BerthClient, id: string, write: (text: string) => void): Promise<Run> {
  let printed = 0;
  const show = (output: string) => {
    if (output.length > printed) write(output.slice(printed));
    printed = Math.max(printed, output.length);
  };
  let final: Run | null = null;
  await c
    .stream('followRun', { params: { id } }, (msg) => {
      if (msg.type === 'output') {
        write(msg.text);
        printed += msg.text.length;
      } else final = msg.run;
    })
    .catch(() => undefined);
  while (!final || !['succeeded', 'failed'].includes((final as Run).status)) {
    if (final) await new Promise((r) => setTimeout(r, 500));
    final = await c.call('getRun', { params: { id } });
  }
  show((final as Run).output);
  return final;
}

/** Runs an interactive command: this terminal raw, its keys to the run, the run's terminal here. Resolves with the finished run. */
async function interactive(c: BerthClient, id: string): Promise<Run> {
  let final: Run | null = null;
  const term = rawTerminal();
  try {
    await c.stream(
      'attachRun',
      { params: { id } },
      (msg) => {
        if ('error' in msg) process.stderr.write(`berth: ${msg.error.message}\n`);
        else if (msg.type === 'output') process.stdout.write(msg.text);
        else final = msg.run;
      },
      { onOpen: term.onOpen },
    );
  } finally {
    term.restore();
  }
  return final ?? (await c.call('getRun', { params: { id } }));
}

export function registerRuns(program: Command) {
  program
    .command('run <app> <command...>')
    .description('run a one-off command in a new container of the live release (berth run my-api -- npm run migrate); exits with its exit code')
    .option('--timeout <seconds>', 'kill it after this long (default 3600)', (v) => Number.parseInt(v, 10))
    .option('--detach', 'print the run id and return at once')
    .option('-i, --interactive', 'keep stdin open and attach this terminal (with -t)')
    .option('-t, --tty', 'run it on a pseudo-terminal, interactively: berth run my-api -it -- bash')
    .action(async (app: string, command: string[], o: { timeout?: number; detach?: boolean; interactive?: boolean; tty?: boolean }, cmd: Command) => {
      const c = client(cmd);
      const g = globals(cmd);
      const tty = !!(o.interactive || o.tty);
      const run = await c.call('runCommand', { params: { id: app }, body: { command, ...(o.timeout ? { timeout_s: o.timeout } : {}), ...(tty ? { tty } : {}) } });
      if (o.detach) return emit(g, run, () => `Started ${run.id} (berth runs info ${run.id})`);
      const done = tty ? await interactive(c, run.id) : await followRun(c, run.id, g.json ? () => {} : (t) => process.stdout.write(t));
      if (g.json) emit(g, done, () => '');
      else if (done.reason && done.exit_code === null) process.stderr.write(`berth: ${done.reason}\n`);
      else if (done.reason?.startsWith('killed')) process.stderr.write(`berth: ${done.reason}\n`);
      process.exitCode = done.exit_code ?? 1;
    });
  const runs = program.command('runs').description('one-off and release commands of an app');
  runs
    .command('ls <app>')
    .description("an app's last runs")
    .action(async (app: string, _o, cmd: Command) => {
      const res = await client(cmd).call('listRuns', { params: { id: app } });
      const rows = res.items.map((r) => ({ ...r, command: r.command.join(' '), release: `v${r.release}`, exit_code: r.exit_code ?? '-' }));
      emit(globals(cmd), res.items, () =>
        table(rows, [['id', 'Id'], ['kind', 'Kind'], ['release', 'Release'], ['command', 'Command'], ['status', 'Status'], ['exit_code', 'Exit'], ['created_at', 'Started']]),
      );
    });
  runs
    .command('info <run>')
    .description('a run with its output')
    .action(async (id: string, _o, cmd: Command) => {
      const r = await client(cmd).call('getRun', { params: { id } });
      emit(globals(cmd), r, () => `${r.id} ${r.kind} v${r.release} ${r.command.join(' ')}: ${r.status}${r.exit_code !== null ? ` (exit ${r.exit_code})` : ''}${r.reason ? ` - ${r.reason}` : ''}\n${r.output}`);
    });
}

export function registerCron(program: Command) {
  const cron = program.command('cron').description('scheduled commands (cron, UTC): one-off runs of the live release on a schedule');
  cron
    .command('add <app> <schedule> <command...>')
    .description('schedule a command: berth cron add my-api "0 * * * *" -- npm run task')
    .option('--timeout <seconds>', 'kill each run after this long (default 3600)', (v) => Number.parseInt(v, 10))
    .action(async (app: string, schedule: string, command: string[], o: { timeout?: number }, cmd: Command) => {
      const c = await client(cmd).call('addCron', { params: { id: app }, body: { schedule, command, ...(o.timeout ? { timeout_s: o.timeout } : {}) } });
      emit(globals(cmd), c, () => `Scheduled ${c.id}: "${c.schedule}" ${c.command.join(' ')} (next at ${c.next_at})`);
    });
  cron
    .command('ls <app>')
    .description("an app's scheduled commands with their last run")
    .action(async (app: string, _o, cmd: Command) => {
      const res = await client(cmd).call('listCron', { params: { id: app } });
      const rows = res.items.map((c) => {
        const last = c.last_runs[0];
        return { ...c, command: c.command.join(' '), last: last ? `${last.status}${last.exit_code !== null ? ` (exit ${last.exit_code})` : ''} at ${last.created_at}` : '-' };
      });
      emit(globals(cmd), res.items, () => table(rows, [['id', 'Id'], ['schedule', 'Schedule'], ['command', 'Command'], ['next_at', 'Next'], ['last', 'Last run']]));
    });
  cron
    .command('rm <app> <id>')
    .description('remove a scheduled command')
    .action(async (app: string, id: string, _o, cmd: Command) => {
      await client(cmd).call('removeCron', { params: { id: app, cron: id } });
      emit(globals(cmd), { ok: true }, () => `Removed ${id}.`);
    });
}
