import type { Command } from 'commander';
import { client, globals } from '../session.js';
import { emit, table } from '../output.js';

export function registerAudit(program: Command) {
  program
    .command('audit')
    .description('the audit log, newest first: who changed what, when, from where (admins: everything; owners: --project)')
    .option('--project <project>', "only this project's entries (needed unless you are an admin)")
    .option('--user <user>', 'only this user (id or name)')
    .option('--action <action>', 'only this action (a route name: deleteApp, login, ...)')
    .option('--before <id>', 'entries older than this id (paging)', (v) => Number.parseInt(v, 10))
    .option('--limit <n>', 'at most this many (1-1000, default 100)', (v) => Number.parseInt(v, 10))
    .action(async (o: { project?: string; user?: string; action?: string; before?: number; limit?: number }, cmd: Command) => {
      const query = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
      const res = await client(cmd).call('listAudit', { query });
      const rows = res.items.map((e) => ({ ...e, who: e.user?.username ?? '-', project: e.project ?? '-', address: e.address ?? '-' }));
      emit(globals(cmd), res, () =>
        rows.length
          ? table(rows, [['id', 'Id'], ['at', 'When'], ['who', 'User'], ['action', 'Action'], ['method', 'Method'], ['path', 'Path'], ['status', 'Status'], ['address', 'From'], ['project', 'Project']])
          : 'No entries.',
      );
    });
}
