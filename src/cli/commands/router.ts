import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { BerthClient } from '../../client/index.js';
import { globals, serverUrl } from '../session.js';
import { emit } from '../output.js';

export function registerRouter(program: Command) {
  const router = program.command('router').description('the edge router');
  router
    .command('ca')
    .description("print Berth's CA certificate (PEM): trust it for HTTPS on private names")
    .option('-o, --out <file>', 'write the PEM to this file instead')
    .action(async (opts: { out?: string }, cmd: Command) => {
      // No token needed: users fetch the CA before they log in (and on machines that never will).
      const ca = await new BerthClient({ baseUrl: serverUrl(globals(cmd)) }).call('getRouterCa');
      if (opts.out) writeFileSync(opts.out, ca.pem);
      emit(globals(cmd), ca, () =>
        opts.out ? `Wrote ${ca.subject} (SHA-256 ${ca.fingerprint_sha256}) to ${opts.out}.` : ca.pem.trimEnd(),
      );
    });
}
