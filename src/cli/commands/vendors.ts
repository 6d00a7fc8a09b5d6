import type { Command } from 'commander';
import { client, globals } from '../session.js';
import { details, emit, table } from '../output.js';

export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').trim();
}

/** `berth vendors ...` (git provider accounts) and `berth source ...` (an app's git source). */
export function registerVendors(program: Command) {
  const vendors = program.command('vendors').description('git provider accounts (GitHub, GitLab, Bitbucket) for private repositories');
  vendors
    .command('add <vendor>')
    .description('add an account: github, gitlab (--host for a self-hosted one) or bitbucket (--username with an app password)')
    .option('--token <token>', 'the access token or app password (prefer --token-stdin: arguments show in ps and shell history)')
    .option('--token-stdin', 'read the token from standard input')
    .option('--host <host>', 'gitlab: host[:port] of a self-hosted GitLab')
    .option('--username <name>', 'bitbucket: the user of the app password')
    .action(async (vendor: string, o: { token?: string; tokenStdin?: boolean; host?: string; username?: string }, cmd: Command) => {
      const token = o.tokenStdin ? await readStdin() : o.token;
      if (!token) throw new Error('give the token with --token-stdin (or --token)');
      const v = await client(cmd).call('createVendor', {
        body: { vendor: vendor as 'github', token, ...(o.host ? { host: o.host } : {}), ...(o.username ? { username: o.username } : {}) },
      });
      emit(globals(cmd), v, () => `Added ${v.vendor} account ${v.id} for ${v.host}. Use it: berth source set APP REPO_URL --vendor ${v.id}`);
    });
  vendors
    .command('ls')
    .description('your accounts (tokens are never shown)')
    .action(async (_o, cmd: Command) => {
      const res = await client(cmd).call('listVendors', {});
      emit(globals(cmd), res.items, () => table(res.items, [['id', 'Id'], ['vendor', 'Vendor'], ['host', 'Host'], ['username', 'Username'], ['created_at', 'Created']]));
    });
  vendors
    .command('rm <id>')
    .description('remove an account')
    .action(async (id: string, _o, cmd: Command) => {
      await client(cmd).call('deleteVendor', { params: { id } });
      emit(globals(cmd), { ok: true }, () => `Removed ${id}.`);
    });

  const source = program.command('source').description("an app's git source: what its push webhook builds");
  const show = (s: { repo_url: string; branch: string; vendor: { id: string; vendor: string } | null; webhook_url: string; previews: boolean; preview_secrets: boolean }) =>
    details({ ...s, vendor: s.vendor ? `${s.vendor.vendor} (${s.vendor.id})` : 'none (public)', previews: s.previews ? `on${s.preview_secrets ? ', with secrets' : ''}` : 'off' }, [
      ['repo_url', 'Repository'],
      ['branch', 'Branch'],
      ['vendor', 'Account'],
      ['webhook_url', 'Webhook'],
      ['previews', 'Previews'],
    ]);
  source
    .command('set <app> <repo_url>')
    .description('set the repository and branch, and the account to clone it with')
    .option('--branch <branch>', 'the branch pushes to which deploy (default main)')
    .option('--vendor <id>', 'a vendor account id (berth vendors ls); "none" for a public repository')
    .option('--previews <on|off>', 'pull/merge requests build preview apps <app>-pr-<number>')
    .option('--preview-secrets <on|off>', 'preview apps also get the secret config vars')
    .action(async (app: string, repoUrl: string, o: { branch?: string; vendor?: string; previews?: string; previewSecrets?: string }, cmd: Command) => {
      const onOff = (v: string | undefined, flag: string) => {
        if (v === undefined) return undefined;
        if (v !== 'on' && v !== 'off') throw new Error(`${flag} takes on or off`);
        return v === 'on';
      };
      const previews = onOff(o.previews, '--previews');
      const secrets = onOff(o.previewSecrets, '--preview-secrets');
      const s = await client(cmd).call('setAppSource', {
        params: { id: app },
        body: {
          repo_url: repoUrl,
          ...(o.branch ? { branch: o.branch } : {}),
          ...(o.vendor ? { vendor: o.vendor === 'none' ? null : o.vendor } : {}),
          ...(previews === undefined ? {} : { previews }),
          ...(secrets === undefined ? {} : { preview_secrets: secrets }),
        },
      });
      emit(globals(cmd), s, () => show(s));
    });
  source
    .command('show <app>')
    .description("show an app's git source")
    .action(async (app: string, _o, cmd: Command) => {
      const s = await client(cmd).call('getAppSource', { params: { id: app } });
      emit(globals(cmd), s, () => show(s));
    });
  source
    .command('rm <app>')
    .description('forget the source (its webhook stops building)')
    .action(async (app: string, _o, cmd: Command) => {
      await client(cmd).call('deleteAppSource', { params: { id: app } });
      emit(globals(cmd), { ok: true }, () => `Removed the source of ${app}.`);
    });
  source
    .command('build <app>')
    .description("build the head of the source's branch now")
    .action(async (app: string, _o, cmd: Command) => {
      const b = await client(cmd).call('buildAppSource', { params: { id: app } });
      emit(globals(cmd), b, () => `Build #${b.number} queued (${b.id}). Follow it: berth builds logs ${b.id}`);
    });
}
