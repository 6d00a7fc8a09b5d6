import { appendFile, cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runOk } from '../../src/lib/exec.js';
import { ROOT, type Bench } from '../support/context.js';
import { buildkitBuild, buildkitCacheIds, pruneBuildkitSince, runOwnCacheIds } from '../support/buildkit.js';
import { row, type Row } from '../support/report.js';
import { berthBuild } from './build.js';

const FIXTURES = join(ROOT, 'test/fixtures/apps');

const MS = { version: '2.1.3', resolved: 'https://registry.npmjs.org/ms/-/ms-2.1.3.tgz', integrity: 'sha512-6FlzubTLZG3J2a/NVCAleEhjzq5oxgHyaCU9yYXvcLsvoVaHJq/s5xXI6/XXP6tz7R9xAOtHnSO/tXtF3WRTlA==', license: 'MIT' };
const ESCAPE_HTML = { version: '1.0.3', resolved: 'https://registry.npmjs.org/escape-html/-/escape-html-1.0.3.tgz', integrity: 'sha512-NiSupZ4OeuGwr68lGIeym/ksIZMJodUGOSCZ/FSnTxcrekbvqrgdUxlJOMpijaKZVjAJrWrGs/6Jy8OMuyj9ow==', license: 'MIT' };

/** package.json and its lockfile (as npm writes it, with `resolved`), for these dependencies. */
async function npmManifests(dir: string, name: string, deps: Record<string, typeof MS>) {
  const dependencies = Object.fromEntries(Object.entries(deps).map(([n, d]) => [n, d.version]));
  const pkg = { name, version: '1.0.0', private: true, scripts: { start: 'node index.js' }, dependencies };
  const packages = { '': { name, version: '1.0.0', dependencies }, ...Object.fromEntries(Object.entries(deps).map(([n, d]) => [`node_modules/${n}`, d])) };
  await writeFile(join(dir, 'package.json'), JSON.stringify(pkg, null, 2));
  await writeFile(join(dir, 'package-lock.json'), JSON.stringify({ name, version: '1.0.0', lockfileVersion: 3, requires: true, packages }, null, 2));
}

interface Language {
  name: string;
  fixture: string;
  /** Before the cold build (per copy). */
  prepare?: (dir: string, b: Bench) => Promise<void>;
  /** The manifest change before the warm build. */
  change: (dir: string, b: Bench) => Promise<void>;
  warmIs: string;
  /** The same app on the Debian 12 stack, for the image size beside it. */
  debian12?: { line: string; pin: (dir: string) => Promise<void> };
  defaultLine: string;
}

const LANGUAGES: Language[] = [
  {
    name: 'Node.js',
    fixture: 'node-web',
    prepare: (dir, b) => npmManifests(dir, `node-web-${b.runId}`, { ms: MS }),
    change: (dir, b) => npmManifests(dir, `node-web-${b.runId}`, { ms: MS, 'escape-html': ESCAPE_HTML }),
    warmIs: 'a dependency added to package-lock.json',
    defaultLine: 'Node.js 24',
    debian12: { line: "Debian 12's Node.js 18", pin: (dir) => writeFile(join(dir, '.nvmrc'), '18\n') },
  },
  {
    name: 'Python',
    fixture: 'python-web',
    change: (dir) => appendFile(join(dir, 'requirements.txt'), '# changed\n'),
    warmIs: 'requirements.txt changed',
    defaultLine: 'Python 3.13 (Debian 13)',
    debian12: { line: "Debian 12's Python 3.11", pin: (dir) => writeFile(join(dir, '.python-version'), '3.11\n') },
  },
  {
    name: 'Go',
    fixture: 'go-web',
    change: (dir) => appendFile(join(dir, 'go.mod'), '// changed\n'),
    warmIs: 'go.mod changed: the build reruns on a warm GOCACHE',
    defaultLine: 'Go 1.27',
  },
  {
    name: 'Ruby',
    fixture: 'ruby-web',
    change: (dir) => appendFile(join(dir, 'Gemfile'), '# changed\n'),
    warmIs: 'Gemfile changed',
    defaultLine: 'Ruby 3.3 (Debian 13)',
    debian12: { line: "Debian 12's Ruby 3.1", pin: (dir) => writeFile(join(dir, '.ruby-version'), '3.1\n') },
  },
  {
    name: 'PHP',
    fixture: 'php-web',
    // A trailing newline: a changed file for the layer cache, the same content-hash for composer.lock.
    change: (dir) => appendFile(join(dir, 'composer.json'), '\n'),
    warmIs: 'composer.json changed (Composer reinstalls from its path repository)',
    defaultLine: 'PHP 8.4 (Debian 13)',
  },
];

/**
 * Builds per language, cold (a new project: no layer cached, empty download caches) and warm (a
 * rebuild after a manifest change), through Berth (upload to build succeeded) beside the engine's
 * BuildKit building the very Dockerfile Berth generated (its cache mounts under ids of this run, so
 * its cold build is cold too: `nocache`). Then each app's image size beside the same app on the
 * Debian 12 stack where one exists. Only npm's registry is reachable here: the Python, Go, Ruby and
 * PHP fixtures have no dependency to download, so their warm builds show the layer cache (and Go's
 * compile cache), not download caching. Opt-in (bench/run.ts): about ten minutes.
 */
export async function buildLanguages(b: Bench): Promise<Row[]> {
  const { dev } = await b.shared();
  const project = (await dev.call('createProject', { body: { name: `langs-${b.runId}`.slice(0, 40) } })).id;
  const dirs: string[] = [];
  const copy = async (fixture: string, side: string) => {
    const dir = await mkdtemp(join(tmpdir(), `berth-bench-${side}-`));
    dirs.push(dir);
    await cp(join(FIXTURES, fixture), dir, { recursive: true });
    return dir;
  };
  const cacheBefore = await buildkitCacheIds();
  const rows: Row[] = [];
  const baselineName = "docker build of the same Dockerfile (the engine's BuildKit)";
  const built = async (slug: string, dir: string) => {
    const r = await berthBuild(dev, slug, dir);
    const image = (await dev.call('getBuild', { params: { id: r.id } })).image;
    b.removeImageLater(image);
    return { ...r, image };
  };
  const sizeMb = async (image: string) => Number((await runOk('docker', ['image', 'inspect', '-f', '{{.Size}}', image], { timeoutMs: 30_000 })).stdout.trim()) / 1e6;
  try {
    for (const lang of LANGUAGES) {
      const slug = b.appName(`bl-${lang.fixture}`);
      await dev.call('createApp', { body: { name: slug, project, auto_deploy: false } });
      const berthDir = await copy(lang.fixture, 'berth');
      const baseDir = await copy(lang.fixture, 'base');
      await lang.prepare?.(berthDir, b);
      await lang.prepare?.(baseDir, b);

      const cold = await built(slug, berthDir);
      const dockerfile = (await dev.call('getBuildDockerfile', { params: { id: cold.id } })).dockerfile;
      if (!dockerfile) throw new Error(`Berth generated no Dockerfile for ${lang.name}`);
      await writeFile(join(baseDir, 'Dockerfile'), runOwnCacheIds(dockerfile, b.runId));
      if (!(await readFile(join(baseDir, '.dockerignore'), 'utf8').catch(() => null))) await writeFile(join(baseDir, '.dockerignore'), '.git\nnode_modules\n');
      const tag = `berth-bench-${slug}`;
      b.removeImageLater(`${tag}:1`);
      b.removeImageLater(`${tag}:2`);
      const baseCold = await buildkitBuild(baseDir, `${tag}:1`, { noCache: true });

      await lang.change(berthDir, b);
      await lang.change(baseDir, b);
      const warm = await built(slug, berthDir);
      const baseWarm = await buildkitBuild(baseDir, `${tag}:2`);

      rows.push(
        row({ group: 'build-languages', figure: `${lang.name} build cold`, unit: 's', berth: cold.ms / 1000, baseline: baseCold / 1000, baselineName, better: 'lower', note: cold.split }),
        row({ group: 'build-languages', figure: `${lang.name} build warm (${lang.warmIs})`, unit: 's', berth: warm.ms / 1000, baseline: baseWarm / 1000, baselineName, better: 'lower', note: warm.split }),
      );

      if (lang.debian12) {
        const oldSlug = b.appName(`bl-${lang.fixture}-12`);
        await dev.call('createApp', { body: { name: oldSlug, project, auto_deploy: false } });
        const oldDir = await copy(lang.fixture, 'deb12');
        await lang.prepare?.(oldDir, b);
        await lang.debian12.pin(oldDir);
        const old = await built(oldSlug, oldDir);
        rows.push(
          row({
            group: 'build-languages',
            figure: `${lang.name} app image size, ${lang.defaultLine}`,
            unit: 'MB',
            berth: await sizeMb(warm.image),
            baseline: await sizeMb(old.image),
            baselineName: `the same app on ${lang.debian12.line}`,
            better: 'lower',
          }),
        );
      } else {
        const size = await sizeMb(warm.image);
        rows.push(row({ group: 'build-languages', figure: `${lang.name} app image size, ${lang.defaultLine}`, unit: 'MB', berth: size, baseline: await sizeMb(`${tag}:2`), baselineName: 'the BuildKit image of the same Dockerfile (no Debian 12 stack of this language)', better: 'lower' }));
      }
    }
    return rows;
  } finally {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
    await pruneBuildkitSince(cacheBefore);
  }
}
