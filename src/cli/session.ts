import type { Command } from 'commander';
import { BerthClient } from '../client/index.js';
import { readConfig } from './config.js';

export interface GlobalOpts {
  json?: boolean;
  server?: string;
}

/** Global options live on the root command; every subcommand reads them through here. */
export function globals(cmd: Command): GlobalOpts {
  return cmd.optsWithGlobals() as GlobalOpts;
}

export function serverUrl(opts: GlobalOpts): string {
  return opts.server || process.env.BERTH_URL || readConfig().server || 'http://localhost:8080';
}

/** A client for the logged-in user; BERTH_TOKEN overrides the stored token. */
export function client(cmd: Command): BerthClient {
  const opts = globals(cmd);
  const cfg = readConfig();
  const token = process.env.BERTH_TOKEN || cfg.token;
  if (!token) throw new Error('not logged in: run `berth login` first');
  return new BerthClient({ baseUrl: serverUrl(opts), token });
}
