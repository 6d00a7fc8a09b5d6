#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { ApiError } from '../client/index.js';
import { registerAuth } from './commands/auth.js';
import { registerProjects } from './commands/projects.js';
import { registerApps } from './commands/apps.js';
import { registerBuilds } from './commands/builds.js';
import { registerAppActions } from './commands/app-actions.js';
import { registerEnv } from './commands/env.js';
import { registerReleases } from './commands/releases.js';
import { registerContainers } from './commands/containers.js';
import { registerDomains } from './commands/domains.js';
import { registerRouter } from './commands/router.js';
import { registerMetrics } from './commands/metrics.js';
import { registerVendors } from './commands/vendors.js';
import { registerWebhooks } from './commands/webhooks.js';
import { registerRegistries } from './commands/registries.js';
import { registerImages } from './commands/images.js';
import { registerAudit } from './commands/audit.js';
import { registerEvents } from './commands/events.js';
import { registerNotify } from './commands/notify.js';
import { registerDrains } from './commands/drains.js';
import { registerAlerts } from './commands/alerts.js';
import { registerCluster } from './commands/cluster.js';
import { registerVolumes } from './commands/volumes.js';
import { registerCron, registerRuns } from './commands/runs.js';
import { registerAddons } from './commands/addons.js';
import { registerAdmin } from './commands/admin.js';

const program = new Command('berth')
  .description('Berth: deploy and run apps on your own servers')
  .version('0.1.0')
  .option('--json', 'machine-readable output')
  .option('--server <url>', 'Berth server URL (default: the one you logged in to, or BERTH_URL)')
  .showHelpAfterError()
  .exitOverride();

registerAuth(program);
registerProjects(program);
registerApps(program);
registerBuilds(program);
registerAppActions(program);
registerEnv(program);
registerReleases(program);
registerContainers(program);
registerDomains(program);
registerRouter(program);
registerMetrics(program);
registerVendors(program);
registerWebhooks(program);
registerRegistries(program);
registerImages(program);
registerAudit(program);
registerEvents(program);
registerNotify(program);
registerDrains(program);
registerAlerts(program);
registerCluster(program);
registerVolumes(program);
registerRuns(program);
registerCron(program);
registerAddons(program);
registerAdmin(program);

/** Every failure is one line on stderr and a non-zero exit; --json callers also get the error as JSON on stdout. */
function fail(err: unknown): never {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  const message = err instanceof Error ? err.message : String(err);
  if (process.argv.includes('--json') && err instanceof ApiError) {
    process.stdout.write(`${JSON.stringify({ error: { status: err.status, code: err.code, message, details: err.details } })}\n`);
  } else if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify({ error: { code: 'failed', message } })}\n`);
  }
  process.stderr.write(`berth: ${message}\n`);
  process.exit(err instanceof ApiError && err.status === 0 ? 3 : 1);
}

program.parseAsync(process.argv).catch(fail);
