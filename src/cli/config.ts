import { mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** Where `berth login` keeps the server and token: BERTH_CONFIG, or ~/.config/berth/config.json (mode 600). */
export interface CliConfig {
  server?: string;
  token?: string;
  username?: string;
}

export const configPath = () => process.env.BERTH_CONFIG ?? join(homedir(), '.config', 'berth', 'config.json');

export function readConfig(): CliConfig {
  try {
    return JSON.parse(readFileSync(configPath(), 'utf8')) as CliConfig;
  } catch {
    return {};
  }
}

export function writeConfig(cfg: CliConfig) {
  const file = configPath();
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${JSON.stringify(cfg, null, 2)}\n`, { mode: 0o600 });
}

export function clearConfig() {
  rmSync(configPath(), { force: true });
}
