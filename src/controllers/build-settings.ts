import { join } from 'node:path';
import type { ArchiveLimits } from '../builder/index.js';

/** Limits of one build, from the environment (operator settings with safe defaults). */
export interface BuildSettings {
  memoryMb: number;
  timeoutMs: number;
  /** A git clone gets at most this long of the build's time. */
  cloneTimeoutMs: number;
  archive: ArchiveLimits;
  /** A build whose source upload never comes is failed after this long. */
  pendingTtlMs: number;
  maxLogLines: number;
}

function num(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got "${raw}"`);
  return n;
}

export function buildSettings(env: NodeJS.ProcessEnv = process.env): BuildSettings {
  const maxArchiveBytes = num(env, 'BERTH_BUILD_MAX_UPLOAD_BYTES', num(env, 'BERTH_BUILD_MAX_UPLOAD_MB', 200) * 1024 * 1024);
  return {
    memoryMb: num(env, 'BERTH_BUILD_MEMORY_MB', 2048),
    timeoutMs: num(env, 'BERTH_BUILD_TIMEOUT_S', 1800) * 1000,
    cloneTimeoutMs: num(env, 'BERTH_BUILD_CLONE_TIMEOUT_S', 300) * 1000,
    archive: {
      maxArchiveBytes,
      maxExpandedBytes: num(env, 'BERTH_BUILD_MAX_SOURCE_MB', 1024) * 1024 * 1024,
      maxEntries: num(env, 'BERTH_BUILD_MAX_FILES', 100_000),
    },
    pendingTtlMs: num(env, 'BERTH_BUILD_UPLOAD_TTL_S', 3600) * 1000,
    maxLogLines: num(env, 'BERTH_BUILD_MAX_LOG_LINES', 50_000),
  };
}

/** Where a build keeps its source while it waits and runs; removed when it finishes. */
export const buildDir = (dataDir: string, buildId: string) => join(dataDir, 'builds', buildId);
/** Bare repositories of the apps' git remotes. */
export const gitRoot = (dataDir: string) => join(dataDir, 'git');
export const bareRepo = (dataDir: string, appId: string) => join(gitRoot(dataDir), `${appId}.git`);
