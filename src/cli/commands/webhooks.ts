import type { Command } from 'commander';
import { client, globals } from '../session.js';
import { details, emit } from '../output.js';

export function registerWebhooks(program: Command) {
  program
    .command('webhook <app>')
    .description("the app's push webhook: URL and secret to paste into GitHub, GitLab or Bitbucket")
    .option('--rotate', 'replace the secret (deliveries signed with the old one are refused)')
    .action(async (app: string, o: { rotate?: boolean }, cmd: Command) => {
      const c = client(cmd);
      const w = o.rotate ? await c.call('rotateWebhook', { params: { id: app } }) : await c.call('getWebhook', { params: { id: app } });
      emit(globals(cmd), w, () =>
        [
          details(w, [['url', 'URL'], ['secret', 'Secret'], ['branch', 'Branch'], ['content_type', 'Content type']]),
          '',
          'GitHub: Payload URL, content type application/json, Secret; events: push.',
          'GitLab: URL, Secret token; trigger: Push events.',
          'Bitbucket: URL, Secret; trigger: Repository push.',
        ].join('\n'),
      );
    });
}
