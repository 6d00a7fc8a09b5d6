import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Runtime } from '../../src/runtime/types.js';
import { uniqueSuffix } from './wait.js';

/** Builds `FROM base` plus the given Dockerfile lines into a test-unique tag; the caller removes it. */
export async function buildFrom(runtime: Runtime, base: string, ...lines: string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-test-build-'));
  const tag = `berth-test/derived:${uniqueSuffix()}`;
  try {
    await writeFile(join(dir, 'Dockerfile'), [`FROM ${base}`, ...lines, ''].join('\n'));
    await runtime.buildImage({ contextDir: dir, dockerfile: 'Dockerfile', tag, timeoutMs: 60_000 });
    return tag;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
