import type { Command } from 'commander';
import type { SocketMessage } from '../../api/contract/sockets.js';
import { client, globals } from '../session.js';
import { rawTerminal } from '../terminal.js';

type Client = 'psql' | 'redis-cli';
type Message = SocketMessage<'addonSession'>;
interface Options {
  project?: string;
  timeout?: number;
  tty?: boolean;
}

/**
 * psql or redis-cli on an add-on, over /ws/addons/{id}/session. On a terminal with no arguments it
 * is interactive (this terminal raw, the client's terminal here); otherwise its stdin is this
 * process's stdin (a script), stdout and stderr come apart, and --json gathers them. Exits with the
 * client's exit code.
 */
async function session(cmd: Command, name: Client, addon: string, args: string[], o: Options): Promise<void> {
  const g = globals(cmd);
  const tty = o.tty ?? (!!process.stdin.isTTY && !!process.stdout.isTTY && args.length === 0 && !g.json);
  const out = { stdout: '', stderr: '' };
  let end: Extract<Message, { type: 'exit' }> | null = null;
  let failure: string | null = null;
  const onMessage = (m: Message) => {
    if ('error' in m) failure = m.error.message;
    else if (m.type === 'exit') end = m;
    else if (g.json) out[m.stream ?? 'stdout'] += m.text;
    else (m.stream === 'stderr' ? process.stderr : process.stdout).write(m.text);
  };
  const query = { client: name, project: o.project, tty, ...(o.timeout ? { timeout_s: o.timeout } : {}) };
  const start = { type: 'start', args };
  const c = client(cmd);
  if (tty) {
    const term = rawTerminal();
    try {
      await c.stream('addonSession', { params: { id: addon }, query }, onMessage, {
        onOpen: (send) => {
          send(start);
          term.onOpen(send);
        },
      });
    } finally {
      term.restore();
    }
  } else {
    const stdin = process.stdin;
    const onData = (chunk: Buffer) => sendInput?.({ type: 'input', text: chunk.toString('utf8') });
    let sendInput: ((msg: unknown) => void) | null = null;
    try {
      await c.stream('addonSession', { params: { id: addon }, query }, onMessage, {
        onOpen: (send) => {
          send(start);
          // A terminal is not a script, and a client given its statement or command reads no stdin
          // (a caller's own input, like a `while read` loop's, is left alone): its stdin ends at once.
          if (stdin.isTTY || !readsStdin(name, args)) return send({ type: 'eof' });
          sendInput = send;
          stdin.on('data', onData);
          stdin.once('end', () => send({ type: 'eof' }));
        },
      });
    } finally {
      stdin.off('data', onData);
      stdin.pause();
    }
  }
  const done = end as Extract<Message, { type: 'exit' }> | null;
  if (g.json) process.stdout.write(`${JSON.stringify({ exit_code: done?.exit_code ?? null, reason: done?.reason ?? failure, ...out })}\n`);
  if (failure) process.stderr.write(`berth: ${failure}\n`);
  else if (!done) process.stderr.write('berth: the session ended without an exit code\n');
  else if (done.reason) process.stderr.write(`berth: ${done.reason}\n`);
  process.exitCode = done?.exit_code ?? 1;
}

const timeout = (v: string) => Number.parseInt(v, 10);

/** Whether the client reads its input from stdin: psql without -c or -f, redis-cli without a command (or with -x). */
function readsStdin(name: Client, args: string[]): boolean {
  if (name === 'psql') return !args.some((a) => /^(-[^-]*[cf]|--command|--file)/.test(a));
  return args.includes('-x') || args.every((a) => a.startsWith('-'));
}

export function registerAddonSessions(addons: Command) {
  addons
    .command('psql <addon> [args...]')
    .description('psql on a PostgreSQL add-on, with its own credentials: interactive on a terminal; for scripts, -c SQL, psql arguments after --, or SQL on stdin (stops at the first error); exits with psql’s exit code')
    .option('-c, --command <sql>', 'run this SQL and exit')
    .option('--project <project>', 'project of the add-on')
    .option('--timeout <seconds>', 'end the session after this long (default 3600)', timeout)
    .option('-t, --tty', 'a terminal even with arguments')
    .option('-T, --no-tty', 'no terminal even on one')
    .action((addon: string, args: string[], o: Options & { command?: string }, cmd: Command) =>
      session(cmd, 'psql', addon, [...(o.command !== undefined ? ['-c', o.command] : []), ...args], o),
    );
  addons
    .command('redis-cli <addon> [args...]')
    .description('redis-cli on a Redis add-on, authenticated for you: interactive on a terminal; a command after -- (berth addons redis-cli cache -- GET key) or commands on stdin for scripts; exits with its exit code')
    .option('--project <project>', 'project of the add-on')
    .option('--timeout <seconds>', 'end the session after this long (default 3600)', timeout)
    .option('-t, --tty', 'a terminal even with arguments')
    .option('-T, --no-tty', 'no terminal even on one')
    .action((addon: string, args: string[], o: Options, cmd: Command) => session(cmd, 'redis-cli', addon, args, o));
}
