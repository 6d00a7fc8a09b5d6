import type { Command } from 'commander';
import type { BerthClient } from '../../client/index.js';
import type { RouteOutput } from '../../api/contract/index.js';
import { client, globals } from '../session.js';
import { emit } from '../output.js';
import { ask } from '../prompt.js';
import { Spinner } from '../progress.js';

type Addon = RouteOutput<'getAddon'>;
type Job = RouteOutput<'getAddonJob'>;

const POLL_MS = 500;
const pause = () => new Promise((r) => setTimeout(r, POLL_MS));

/** What `berth addons upgrade` did, for --json and for the closing line. */
interface Upgrade {
  from: { name: string; version: string | null };
  to: { name: string; version: string | null };
  backup: string;
  apps: { app: string; var: string; restarted: boolean }[];
}

/**
 * `berth addons upgrade DB --major 17`: PostgreSQL's own path to a new major version, a dump
 * restored into a new add-on, done in the order that loses no write. The apps attached to DB are
 * stopped first (their URLs answer 503), so nothing is written to DB after its dump; the new add-on
 * gets the dump, takes DB's attachments under the same variables, and the apps start on it. DB
 * itself is left as it was, to go back to or to remove once the new one is trusted.
 */
export function registerAddonUpgrade(addons: Command): void {
  addons
    .command('upgrade <addon>')
    .description('move a PostgreSQL add-on to a newer major version: a new add-on gets a dump of it and its attachments; the attached apps are stopped meanwhile')
    .requiredOption('--major <version>', 'the major version to move to (17, say)')
    .option('--name <name>', 'the new add-on\'s name (default: <addon>-<major>)')
    .option('--project <project>', 'project of the add-on')
    .option('--confirm <addon>', 'the add-on name, instead of typing it')
    .action(async (addon: string, o: { major: string; name?: string; project?: string; confirm?: string }, cmd: Command) => {
      const c = client(cmd);
      const quiet = globals(cmd).json;
      const old = await c.call('getAddon', { params: { id: addon }, query: { project: o.project } });
      if (old.type !== 'postgres') throw new Error(`${old.name} is a ${old.type} add-on; only PostgreSQL add-ons move between major versions`);
      if (!/^\d{1,3}$/.test(o.major)) throw new Error(`--major must be a major version number such as 17, not "${o.major}"`);
      if (old.version !== null && Number(o.major) <= Number(old.version)) {
        throw new Error(`${old.name} runs PostgreSQL ${old.version}; --major ${o.major} is not newer (a dump goes into the same or a newer version only)`);
      }
      const apps = old.attachments;
      const stops = apps.length ? `The apps attached to it (${apps.map((t) => t.app).join(', ')}) are stopped until the new add-on has its data: their URLs answer 503 meanwhile. ` : '';
      const answer = o.confirm ?? (await ask(`This copies add-on ${old.name} (PostgreSQL ${old.version ?? '?'}) into a new PostgreSQL ${o.major} add-on. ${stops}Type its name to go on: `));
      if (answer.trim() !== old.name) throw new Error(`confirmation "${answer.trim()}" does not match "${old.name}": nothing was changed`);

      const spin = new Spinner(quiet ? false : undefined);
      const project = old.project.id;
      const name = o.name ?? `${old.name}-${o.major}`;
      spin.update(`creating PostgreSQL ${o.major} add-on ${name}`);
      let next = await c.call('createAddon', {
        body: { type: 'postgres', name, project, version: o.major, backup_schedule: old.backup_schedule ?? undefined, backup_keep: old.backup_keep, pitr_days: old.pitr?.window_days },
      });
      next = await untilRunning(c, next, spin);
      if (old.verify_query) await c.call('updateAddon', { params: { id: next.id }, query: {}, body: { verify_query: old.verify_query } });

      // From here on, the apps that were running are started again whatever happens.
      const running: string[] = [];
      const moved: Upgrade['apps'] = [];
      const detached: typeof apps = [];
      try {
        for (const t of apps) {
          const app = await c.call('getApp', { params: { id: t.app } });
          if (app.status === 'stopped' || app.status === 'idle') continue;
          spin.update(`stopping ${t.app} so that nothing writes to ${old.name} after its dump`);
          await c.call('stopApp', { params: { id: t.app } });
          running.push(t.app);
        }
        for (const app of running) {
          while ((await c.call('listContainers', { query: { app } })).items.length > 0) {
            spin.update(`waiting for ${app}'s replicas to stop`);
            await pause();
          }
        }
        spin.update(`dumping ${old.name}`);
        const dump = await untilDone(c, old.id, await c.call('createBackup', { params: { id: old.id } }), `dumping ${old.name}`, spin);
        spin.update(`restoring the dump into ${next.name}`);
        await untilDone(c, next.id, await c.call('restoreBackup', { params: { id: next.id }, body: { backup: dump.id } }), `restoring into ${next.name}`, spin);
        for (const t of apps) {
          spin.update(`moving ${t.app}'s ${t.var} to ${next.name}`);
          await c.call('detachAddon', { params: { id: old.id }, query: {}, body: { app: t.app } });
          detached.push(t);
          await c.call('attachAddon', { params: { id: next.id }, query: {}, body: { app: t.app, as: t.as } });
          moved.push({ app: t.app, var: t.var, restarted: running.includes(t.app) });
        }
        const done: Upgrade = { from: { name: old.name, version: old.version }, to: { name: next.name, version: next.version }, backup: dump.id, apps: moved };
        for (const app of running) await c.call('startApp', { params: { id: app } });
        spin.done(`${old.name} (PostgreSQL ${old.version}) is copied into ${next.name} (PostgreSQL ${next.version})`);
        emit(globals(cmd), done, () =>
          [
            moved.length
              ? `${moved.map((m) => `${m.app} now has ${m.var} from ${next.name}${m.restarted ? ' and is starting' : ''}`).join('; ')}.`
              : `No app was attached to ${old.name}; attach ${next.name} with: berth addons attach ${next.name} --app APP`,
            `${old.name} is kept as it was, with its data and backups: remove it with "berth addons rm ${old.name}" once ${next.name} is trusted.`,
          ].join('\n'),
        );
      } catch (err) {
        // The apps go back to the old add-on (their attachments moved only after the restore) and start again.
        for (const t of detached) {
          if (moved.some((m) => m.app === t.app)) await c.call('detachAddon', { params: { id: next.id }, query: {}, body: { app: t.app } }).catch(() => undefined);
          await c.call('attachAddon', { params: { id: old.id }, query: {}, body: { app: t.app, as: t.as } }).catch(() => undefined);
        }
        for (const app of running) await c.call('startApp', { params: { id: app } }).catch(() => undefined);
        spin.done(`upgrade of ${old.name} stopped`);
        throw new Error(`${(err as Error).message}; ${running.length ? `${running.join(', ')} started again on ${old.name}; ` : ''}${next.name} is left for a look (berth addons rm ${next.name} to remove it)`, { cause: err });
      }
    });
}

async function untilRunning(c: BerthClient, a: Addon, spin: Spinner): Promise<Addon> {
  while (a.status === 'creating') {
    spin.update(`waiting for ${a.name} to start`);
    await pause();
    a = await c.call('getAddon', { params: { id: a.id }, query: {} });
  }
  if (a.status !== 'running') throw new Error(`${a.name} did not start: ${a.message ?? a.status}`);
  return a;
}

async function untilDone(c: BerthClient, addon: string, j: Job, what: string, spin: Spinner): Promise<Job> {
  while (j.status !== 'succeeded' && j.status !== 'failed') {
    spin.update(`${what} (${j.status})`);
    await pause();
    j = await c.call('getAddonJob', { params: { id: addon, job: j.id } });
  }
  if (j.status === 'failed') throw new Error(`${what} failed: ${j.reason ?? 'no reason given'}`);
  return j;
}
