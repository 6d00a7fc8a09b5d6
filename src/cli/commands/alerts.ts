import type { Command } from 'commander';
import { client, globals } from '../session.js';
import { emit, table } from '../output.js';

const fmt = (v: number | null) => (v === null ? '-' : Number.isInteger(v) ? String(v) : v.toFixed(1));

/** alerts, alerts:set, alerts:firing: an app's alert rules and their state, changed per app. */
export function registerAlerts(program: Command) {
  program
    .command('alerts <app>')
    .description("an app's alert rules: each one's state (ok, pending, firing, off), since when, its last value and threshold")
    .action(async (app: string, _o, cmd: Command) => {
      const res = await client(cmd).call('listAlerts', { params: { id: app } });
      emit(globals(cmd), res.items, () =>
        table(
          res.items.map((a) => ({
            rule: a.rule,
            state: a.status.toUpperCase(),
            since: a.since ?? '-',
            value: a.value === null ? '-' : `${fmt(a.value)} ${a.unit}`,
            threshold: `${a.fires === 'above' ? '>' : '<'} ${fmt(a.threshold)} ${a.unit}${a.threshold === a.default_threshold ? '' : ' (changed)'}`,
            title: a.title,
          })),
          [['rule', 'Rule'], ['state', 'State'], ['since', 'Since'], ['value', 'Value'], ['threshold', 'Fires at'], ['title', 'What']],
        ),
      );
    });
  program
    .command('alerts:set <app> <rule>')
    .description('change one rule for this app: --threshold N, --default (its default threshold), --off or --on')
    .option('--threshold <n>', 'the value the rule fires at, in its unit (see `berth alerts APP`)')
    .option('--default', "back to the rule's default threshold")
    .option('--off', 'turn the rule off for this app (a firing alert resolves)')
    .option('--on', 'turn the rule back on')
    .action(async (app: string, rule: string, o: { threshold?: string; default?: boolean; off?: boolean; on?: boolean }, cmd: Command) => {
      if (o.off && o.on) throw new Error('give one of --off or --on');
      if (o.threshold !== undefined && o.default) throw new Error('give one of --threshold N or --default');
      if (o.threshold === undefined && !o.default && !o.off && !o.on) throw new Error('give --threshold N, --default, --off or --on');
      const threshold = o.threshold !== undefined ? Number(o.threshold) : undefined;
      if (threshold !== undefined && !Number.isFinite(threshold)) throw new Error(`--threshold must be a number, got "${o.threshold}"`);
      const change = {
        ...(o.off ? { enabled: false } : o.on ? { enabled: true } : {}),
        ...(threshold !== undefined ? { threshold } : o.default ? { threshold: null } : {}),
      };
      // The server names the field of an unknown rule or a bad threshold.
      const res = await client(cmd).call('updateAlerts', { params: { id: app }, body: { rules: { [rule]: change } } as never });
      const a = res.items.find((x) => x.rule === rule);
      emit(globals(cmd), a, () => (a ? `${app} ${a.rule}: ${a.enabled ? `fires ${a.fires} ${fmt(a.threshold)} ${a.unit}` : 'off'}.` : 'Done.'));
    });
  program
    .command('alerts:firing <project>')
    .description("the alerts firing now across a project's apps")
    .action(async (project: string, _o, cmd: Command) => {
      const res = await client(cmd).call('listProjectAlerts', { params: { id: project } });
      emit(globals(cmd), res.items, () =>
        res.items.length
          ? table(
              res.items.map((a) => ({ app: a.app.slug, rule: a.rule, since: a.since, value: a.value === null ? '-' : `${fmt(a.value)} ${a.unit}`, title: a.title })),
              [['app', 'App'], ['rule', 'Rule'], ['since', 'Since'], ['value', 'Value'], ['title', 'What']],
            )
          : 'No alerts firing.',
      );
    });
}
