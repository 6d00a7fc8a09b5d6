import type { Command } from 'commander';
import { client, globals } from '../session.js';
import { emit, table } from '../output.js';

export function registerDomains(program: Command) {
  const domains = program.command('domains').description('custom domains');
  domains
    .command('add <app> <hostname>')
    .description('add a custom domain (routed once its DNS points here)')
    .action(async (app: string, hostname: string, _o, cmd: Command) => {
      const d = await client(cmd).call('addDomain', { params: { id: app }, body: { hostname } });
      emit(globals(cmd), d, () => (d.verified ? `${d.hostname} is verified and routed to ${app}.` : `${d.hostname} added, not verified yet: ${d.verification.instructions}`));
    });
  domains
    .command('ls <app>')
    .description("list an app's domains")
    .action(async (app: string, _o, cmd: Command) => {
      const res = await client(cmd).call('listDomains', { params: { id: app } });
      const rows = res.items.map((d) => ({ ...d, https: d.certificate ? `${d.certificate.status} (${d.certificate.issuer}${d.certificate.not_after ? `, until ${d.certificate.not_after.slice(0, 10)}` : ''})` : null }));
      emit(globals(cmd), res.items, () => table(rows, [['hostname', 'Hostname'], ['verified', 'Verified'], ['https', 'Certificate'], ['message', 'Last check']]));
    });
  domains
    .command('verify <app> <hostname>')
    .description('check a domain now')
    .action(async (app: string, hostname: string, _o, cmd: Command) => {
      const d = await client(cmd).call('verifyDomain', { params: { id: app, hostname } });
      emit(globals(cmd), d, () => (d.verified ? `${d.hostname} is verified and routed.` : `${d.hostname} is not verified: ${d.message}`));
      if (!d.verified) process.exitCode = 1;
    });
  domains
    .command('rm <app> <hostname>')
    .description('remove a domain')
    .action(async (app: string, hostname: string, _o, cmd: Command) => {
      await client(cmd).call('removeDomain', { params: { id: app, hostname } });
      emit(globals(cmd), { ok: true }, () => `Removed ${hostname}.`);
    });
}
