import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { checkManager, chooseNode, type NodeRequest } from '../../src/builder/node-version.js';
import { generateDockerfile } from '../../src/builder/dockerfile.js';
import { detect } from '../../src/builder/detect.js';
import { NODE_LINES, nodeLines } from '../../src/config-stacks.js';
import { DetectionError } from '../../src/builder/errors.js';
import { tempDir } from './helpers.js';

const lines = nodeLines({})!;
const pick = (asked: string, file: NodeRequest['file'] = 'package.json engines.node') => chooseNode({ file, asked }, lines, 'unused');
const repo = path.resolve(import.meta.dirname, '../../..');

test('an app gets the newest line that satisfies what it asked for', () => {
  assert.equal(pick('22.x').image, 'berth/stack-node:22-bookworm');
  assert.equal(pick('>=20').image, 'berth/stack-node:24-bookworm');
  assert.equal(pick('^22.1.0 || ^18').image, 'berth/stack-node:22-bookworm');
  assert.equal(pick('v18', '.nvmrc').image, 'berth/stack-node:bookworm');
  assert.equal(pick('lts/jod', '.nvmrc').image, 'berth/stack-node:22-bookworm');
  assert.equal(pick('lts/*', '.nvmrc').image, 'berth/stack-node:24-bookworm');
  assert.equal(pick('node', '.node-version').image, 'berth/stack-node:24-bookworm');
  // What `node -v > .nvmrc` writes: its line, at that version or newer.
  assert.equal(pick('v22.11.0', '.nvmrc').image, 'berth/stack-node:22-bookworm');
  assert.throws(() => pick('22.99.0', '.nvmrc'), /\.nvmrc asks for Node\.js "22\.99\.0"; this server builds with/);
  assert.throws(() => pick('>=1 ' + '<2 '.repeat(100)), /asks for Node\.js with \d+ characters; a version or range is at most 100/);
  assert.match(pick('22').why, /Node\.js 22\.23\.5, the newest here that satisfies "22" from package\.json engines\.node/);
});

test('nothing asked: the newest LTS, and the log says why', () => {
  const c = chooseNode(null, lines, 'unused');
  assert.equal(c.image, 'berth/stack-node:24-bookworm');
  assert.match(c.why, /default/);
});

test('a version no line serves fails the build, naming the file, the version and what is offered', () => {
  assert.throws(
    () => pick('>=26'),
    (err: Error) => err instanceof DetectionError && /package\.json engines\.node asks for Node\.js ">=26"; this server builds with Node\.js 24\.22\.3, 22\.23\.5, 18\.20\.4/.test(err.message),
  );
  assert.throws(() => pick('20.x', '.nvmrc'), /\.nvmrc asks for Node\.js "20\.x"/);
  assert.throws(() => pick('lts/argon', '.nvmrc'), /an LTS name this server does not know/);
  assert.throws(() => pick('banana\n\u001b[31m'), /"banana {2}\[31m", which is not a version or a range/);
});

test('an operator-pinned image is used for every app and the log says the request was not checked', () => {
  const c = chooseNode({ file: '.nvmrc', asked: '22' }, nodeLines({ BERTH_STACK_NODE: 'node:22-slim' }), 'node:22-slim');
  assert.equal(c.image, 'node:22-slim');
  assert.match(c.why, /BERTH_STACK_NODE.*\.nvmrc asks for "22"/);
});

test('detection reads engines.node first, then .nvmrc, then .node-version', async () => {
  const dir = await tempDir('node-version');
  try {
    const write = (name: string, body: string) => fs.writeFile(path.join(dir, name), body);
    await write('index.js', '');
    await write('.node-version', '18.20\n');
    await write('package.json', '{}');
    assert.deepEqual((await detect(dir)).node?.request, { file: '.node-version', asked: '18.20' });
    await write('.nvmrc', '# comment\nlts/jod\n');
    assert.deepEqual((await detect(dir)).node?.request, { file: '.nvmrc', asked: 'lts/jod' });
    await write('package.json', '{"engines":{"node":" >=22 "}}');
    assert.deepEqual((await detect(dir)).node?.request, { file: 'package.json engines.node', asked: '>=22' });
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('the stacks script builds exactly the versions the builder offers', async () => {
  const script = await fs.readFile(path.join(repo, 'scripts/stacks.sh'), 'utf8');
  const declared = /declare -A NODE_LINES=\(([^)]*)\)/.exec(script)?.[1] ?? '';
  const built = Object.fromEntries([...declared.matchAll(/\[(\d+)\]=([\d.]+)/g)].map((m) => [m[1], m[2]]));
  const offered = Object.fromEntries(NODE_LINES.filter((l) => l.image !== 'berth/stack-node:bookworm').map((l) => [String(l.major), l.version]));
  assert.deepEqual(built, offered);
});

test('the package manager: packageManager first, then the lockfile; its install step installs as locked', async () => {
  const dir = await tempDir('node-manager');
  try {
    const write = (name: string, body: string) => fs.writeFile(path.join(dir, name), body);
    const dockerfile = async () => generateDockerfile(await detect(dir), { stackImage: 'berth/stack-node:24-bookworm' });
    await write('index.js', '');
    await write('package.json', '{"dependencies":{"ms":"^2"}}');
    assert.equal((await detect(dir)).node?.manager, 'npm');
    assert.match(await dockerfile(), /^RUN npm install --omit=dev/m);
    await write('yarn.lock', '# yarn lockfile v1\n');
    assert.equal((await detect(dir)).node?.manager, 'yarn');
    assert.match(await dockerfile(), /^COPY \["package.json","yarn.lock","\.\/"\]\nRUN yarn install --non-interactive --frozen-lockfile && yarn cache clean$/m);
    // A lockfile over the 1 MB that other manifests may weigh is still recognized.
    await write('yarn.lock', '# yarn lockfile v1\n' + 'x@^1:\n  version "1.0.0"\n'.repeat(60_000));
    assert.equal((await detect(dir)).node?.manager, 'yarn');
    await write('yarn.lock', '# header\n\n__metadata:\n  version: 8\n');
    await assert.rejects(detect(dir), /Yarn 2\+ \(Berry\) lockfile but package\.json names no Yarn version: add "packageManager"/);
    await write('package.json', '{"packageManager":"yarn@4.5.0","dependencies":{"ms":"^2"}}');
    await write('.yarnrc.yml', 'yarnPath: .yarn/releases/yarn-4.5.0.cjs\n');
    await fs.mkdir(path.join(dir, '.yarn/releases'), { recursive: true });
    const berry = await dockerfile();
    assert.match(berry, /^ENV YARN_NODE_LINKER=node-modules$/m);
    assert.match(berry, /^COPY \["package.json","yarn.lock",".yarnrc.yml","\.\/"\]\nCOPY \[".yarn",".\/.yarn\/"\]\nRUN yarn install --immutable/m);
    await write('pnpm-lock.yaml', "lockfileVersion: '9.0'\n");
    await write('package.json', '{"packageManager":"pnpm@9.15.9","dependencies":{"ms":"^2"},"scripts":{"build":"tsc"}}');
    assert.equal((await detect(dir)).node?.manager, 'pnpm');
    const pnpm = await dockerfile();
    assert.match(pnpm, /^RUN NODE_ENV=development pnpm install --frozen-lockfile && pnpm store prune$/m);
    assert.match(pnpm, /^RUN pnpm run build && pnpm prune --prod$/m);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('Yarn or pnpm on a line without Corepack fails at once, saying what to ask for', () => {
  const old = pick('18');
  assert.throws(() => checkManager(old, 'pnpm'), /installs with pnpm, which Berth runs through Corepack, and its Node\.js 18\.20\.4 stack has none: ask for Node\.js 22 or newer/);
  assert.doesNotThrow(() => checkManager(old, 'npm'));
  assert.doesNotThrow(() => checkManager(pick('22'), 'yarn'));
});
