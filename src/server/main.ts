#!/usr/bin/env node
import { mkdirSync } from 'node:fs';
import { pino } from 'pino';
import { loadConfig } from '../config.js';
import { openStore } from '../store/db.js';
import { buildServer } from '../api/server.js';
import type { ApiContext } from '../api/context.js';
import { ensureAdmin, loadSecretBox } from './bootstrap.js';

async function main() {
  const config = loadConfig();
  const log = pino({ level: config.logLevel, base: { service: 'berth' } });
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });

  const store = await openStore({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
  log.info({ engine: store.engine, dataDir: config.dataDir }, 'database ready');
  await ensureAdmin(store.db, config.dataDir, config.adminPassword, log);

  const ctx: ApiContext = {
    config,
    store,
    db: store.db,
    secrets: loadSecretBox(config.dataDir),
    log,
    nudge: () => {},
  };
  const app = await buildServer(ctx);
  await app.listen({ port: config.serverPort, host: config.serverHost });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    // Stop taking requests, let in-flight ones finish, then close the database.
    const force = setTimeout(() => process.exit(1), 15_000);
    force.unref();
    await app.close();
    await store.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err) => {
  process.stderr.write(`berth: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
