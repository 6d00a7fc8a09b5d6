import { createHash } from 'node:crypto';
import { copyFile, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Runtime } from '../../src/runtime/types.js';
import { TEST_APP_SOURCE } from './test-app.js';

export const BASE_IMAGE = process.env.BERTH_BASE_IMAGE ?? 'berth/base:bookworm';
const NODE_BINARY = '/usr/bin/node';

/**
 * The test app image: the base image plus the host's node binary (Debian 12 like the base, whose
 * minbase already has the libraries node links against) and the test app. No apt, no network.
 * The tag is a hash of its inputs, so a built image is reused across runs and test files.
 */
const pending = new Map<string, Promise<string>>();

export async function ensureTestAppImage(runtime: Runtime): Promise<string> {
  const node = await stat(NODE_BINARY);
  const hash = createHash('sha256')
    .update([BASE_IMAGE, process.version, node.size, node.mtimeMs, TEST_APP_SOURCE, DOCKERFILE].join('\n'))
    .digest('hex')
    .slice(0, 16);
  const tag = `berth-test/app:${hash}`;
  let p = pending.get(tag);
  if (!p) {
    p = build(runtime, tag);
    pending.set(tag, p);
    p.catch(() => pending.delete(tag));
  }
  return p;
}

const DOCKERFILE = `FROM ${BASE_IMAGE}
COPY node /usr/local/bin/node
COPY server.js /app/server.js
WORKDIR /app
ENV PORT=8080
EXPOSE 8080
CMD ["node", "/app/server.js"]
`;

async function build(runtime: Runtime, tag: string): Promise<string> {
  if (await runtime.inspectImage(tag)) return tag;
  if (!(await runtime.inspectImage(BASE_IMAGE))) {
    throw new Error(`${BASE_IMAGE} is missing: run scripts/base-image.sh`);
  }
  const dir = await mkdtemp(join(tmpdir(), 'berth-test-app-'));
  try {
    await copyFile(NODE_BINARY, join(dir, 'node'));
    await writeFile(join(dir, 'server.js'), TEST_APP_SOURCE);
    await writeFile(join(dir, 'Dockerfile'), DOCKERFILE);
    const lines: string[] = [];
    await runtime
      .buildImage({
        contextDir: dir,
        dockerfile: 'Dockerfile',
        tag,
        timeoutMs: 120_000,
        onLine: (l) => lines.push(l),
      })
      .catch((err: Error) => {
        throw new Error(`${err.message}\n${lines.slice(-20).join('\n')}`);
      });
    return tag;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
