import { promises as fs } from 'node:fs';
import path from 'node:path';
import { DetectionError } from './errors.js';
import { readSourceFile, readSourceHead, sourceDirExists, sourceFileExists } from './sourcefs.js';
import type { Language } from '../config-stacks.js';

export type { Language };

/**
 * How the app starts. A Procfile line is the user's own command and runs under `sh -c` (it may
 * use $PORT, pipes, env vars); a convention is a fixed argument array.
 */
export type StartCommand =
  | { source: 'Procfile'; shell: string }
  | { source: 'convention'; argv: string[] }
  | { source: 'convention'; shell: string };

/** Where an app asked for a Node.js version, and what it wrote there (node-version.ts chooses the line). */
export interface NodeRequest {
  file: 'package.json engines.node' | '.nvmrc' | '.node-version';
  asked: string;
}

/** Who installs a Node.js app's dependencies: its packageManager field, else its lockfile, else npm. */
export type NodeManager = 'npm' | 'yarn' | 'yarn-berry' | 'pnpm';

export interface NodeFacts {
  /** The manager's lockfile: installs exactly what it says (`npm ci`, `--frozen-lockfile`, `--immutable`). */
  lockfile: string | null;
  manager: NodeManager;
  /** Any dependencies at all; an app without any needs no install step (and no registry). */
  hasDependencies: boolean;
  /** A "build" script: dev dependencies are installed, the build runs, then they are pruned. */
  hasBuildScript: boolean;
  /** The Node.js version the app asked for, and where (node-version.ts chooses the line). */
  request: NodeRequest | null;
  /** Folders copied before the install step because the manager reads them (.yarn, patches). */
  installFolders: string[];
}

/**
 * Where a Python, Go, Ruby, PHP or Java app asked for a version, and what it wrote there (lang-version.ts
 * chooses the line). kind says how to read a requirement that is not a bare version ('minimum': a
 * version any newer line also serves, pom.xml's release).
 */
export interface VersionRequest {
  file: string;
  asked: string;
  kind?: 'pep440' | 'gem' | 'composer' | 'minimum';
  /** go.mod: its go line (a minimum) and its toolchain line (go1.25.4), as written. */
  go?: string;
  toolchain?: string | null;
}

/**
 * Who installs a Python app's dependencies: the lockfile says (uv.lock, poetry.lock, then a Pipfile),
 * else pip. package-managers.ts checks the stack has that manager.
 */
export type PythonManager = 'pip' | 'pipenv' | 'poetry' | 'uv';

export interface PythonFacts {
  manager: PythonManager;
  /** The manager's lockfile (uv.lock, poetry.lock, Pipfile.lock): installed exactly as it says. */
  lockfile: string | null;
  /** Local path dependencies the lockfile names, as their top folder or file in the source: copied before the install, which reads them. */
  installPaths: string[];
  /** requirements.txt lists at least one requirement. */
  requirements: boolean;
  /** pyproject.toml declares dependencies: the project itself is pip-installed. */
  pyprojectDependencies: boolean;
  /** Pipfile lists packages: installed with pipenv from its lockfile. */
  pipfilePackages: boolean;
  request: VersionRequest | null;
}

export interface GoFacts {
  /** go.sum lists modules: `go mod download` gets its own cached layer. */
  hasModules: boolean;
  /** vendor/modules.txt exists: build from vendor/, no downloads. */
  vendored: boolean;
  /** Package to build, `.` or `./cmd/<name>`. */
  target: string;
  /** Name of the built binary, installed as /app/bin/<name>. */
  binary: string;
  request: VersionRequest | null;
}

export interface RubyFacts {
  /** The Gemfile lists gems; without any, bundler is not run (it would need RubyGems). */
  hasGems: boolean;
  lockfile: boolean;
  /** Gemfile.lock's BUNDLED WITH: the Bundler that wrote it (package-managers.ts holds the stack's to its major). */
  bundledWith: string | null;
  /** Gemfile.lock's path gems inside the source, as their top folder: copied before the install, which reads them. */
  installPaths: string[];
  /** Set by package-managers.ts on Berth's stacks: the stack's Bundler version, installed with; the locked one is never fetched. */
  systemBundler?: string;
  request: VersionRequest | null;
}

export interface PhpFacts {
  /** composer.json exists: Composer installs the dependencies and writes the autoloader. */
  composer: boolean;
  /** composer.lock exists: installed exactly as it says. */
  lockfile: boolean;
  /** Path repositories inside the source (composer.json's repositories): copied before the install, which reads them. */
  installFolders: string[];
  /** public/ exists (the Laravel and Symfony layout): it is the document root, else the app root is. */
  publicDir: boolean;
  /** Folders the framework writes at run time (Laravel's storage/ and bootstrap/cache/, Symfony's var/): the app's user owns them. */
  writable: string[];
  request: VersionRequest | null;
}

export interface JavaFacts {
  /** Maven (pom.xml: the stack's, Debian's) or Gradle (build.gradle: the project's own ./gradlew, the only Gradle run). */
  tool: 'maven' | 'gradle';
  request: VersionRequest | null;
}

export interface Detection {
  builder: 'dockerfile' | Language;
  language: Language | null;
  /** One line for the build log: what was found. */
  reason: string;
  /** Null for a Dockerfile build: the Dockerfile has its own CMD. */
  start: StartCommand | null;
  /** Procfile processes (web, worker, release...), as written. */
  processes: Record<string, string>;
  /** Dependency manifests and lockfiles present, copied before the code so their layer caches. */
  manifests: string[];
  node?: NodeFacts;
  python?: PythonFacts;
  go?: GoFacts;
  ruby?: RubyFacts;
  php?: PhpFacts;
  java?: JavaFacts;
}

// composer.json comes first: a Laravel app has a package.json too (for its front-end assets), and is
// a PHP app. A lone index.php is the weakest sign, so it is looked for last.
const MARKERS: { language: Language; files: string[] }[] = [
  { language: 'php', files: ['composer.json'] },
  { language: 'node', files: ['package.json'] },
  { language: 'python', files: ['requirements.txt', 'pyproject.toml', 'Pipfile'] },
  { language: 'go', files: ['go.mod'] },
  { language: 'ruby', files: ['Gemfile'] },
  { language: 'java', files: ['pom.xml', 'build.gradle', 'build.gradle.kts'] },
  { language: 'php', files: ['index.php'] },
];

// In the order the languages are named to a user (PHP's markers last), not the order they are tried.
export const LOOKED_FOR = ['Dockerfile', ...MARKERS.filter((m) => m.language !== 'php').flatMap((m) => m.files), 'composer.json', 'index.php'];

/** Works out how to build the source tree in `dir`. Throws DetectionError when it cannot. */
export async function detect(dir: string): Promise<Detection> {
  const processes = parseProcfile((await readSourceFile(dir, 'Procfile')) ?? '');
  const web = processes.web ? { source: 'Procfile' as const, shell: processes.web } : null;

  if (await sourceFileExists(dir, 'Dockerfile')) {
    return { builder: 'dockerfile', language: null, reason: 'Dockerfile found', start: null, processes, manifests: [] };
  }
  for (const { language, files } of MARKERS) {
    const found: string[] = [];
    for (const f of files) if (await sourceFileExists(dir, f)) found.push(f);
    if (found.length === 0) continue;
    // A Node.js app that carries a composer.json for tooling stays a Node.js app: PHP comes first
    // only when composer.json requires something (a Laravel app always does), or there is no package.json.
    if (language === 'php' && found.includes('composer.json') && !(await composerRequires(dir)) && (await sourceFileExists(dir, 'package.json'))) continue;
    const base = { builder: language, language, processes, reason: `${language}: ${found.join(', ')} found` };
    switch (language) {
      case 'node':
        return { ...base, ...(await detectNode(dir, web)) };
      case 'python':
        return { ...base, ...(await detectPython(dir, web)) };
      case 'go':
        return { ...base, ...(await detectGo(dir, web)) };
      case 'ruby':
        return { ...base, ...(await detectRuby(dir, web)) };
      case 'php':
        return { ...base, ...(await detectPhp(dir, web)) };
      case 'java':
        return { ...base, ...(await detectJava(dir, web, found)) };
    }
  }
  throw new DetectionError(
    `no app found: looked for ${LOOKED_FOR.join(', ')} at the top of the source. ` +
      'Add a Dockerfile, or one of these files for Node.js, Python, Go, Ruby, Java or PHP.',
  );
}

/** `name: command` lines; comments and blank lines are skipped, later duplicates win. */
export function parseProcfile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const m = /^([A-Za-z0-9_-]+):\s*(.*\S)\s*$/.exec(raw);
    if (m) out[m[1]] = m[2];
  }
  return out;
}

type LanguagePart = Pick<Detection, 'start' | 'manifests' | 'node' | 'python' | 'go' | 'ruby' | 'php' | 'java'>;

async function existing(dir: string, names: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const n of names) if (await sourceFileExists(dir, n)) out.push(n);
  return out;
}

function noStart(language: string, tried: string[]): never {
  throw new DetectionError(
    `${language} app found but no start command: add a Procfile with a "web:" line, or ${tried.join(', ')}`,
  );
}

async function detectNode(dir: string, web: StartCommand | null): Promise<LanguagePart> {
  let pkg: {
    main?: unknown;
    scripts?: Record<string, unknown>;
    dependencies?: Record<string, unknown>;
    devDependencies?: Record<string, unknown>;
    engines?: { node?: unknown };
    packageManager?: unknown;
  };
  try {
    pkg = JSON.parse((await readSourceFile(dir, 'package.json')) ?? '');
  } catch {
    throw new DetectionError('package.json is not valid JSON');
  }
  if (typeof pkg !== 'object' || pkg === null) throw new DetectionError('package.json is not a JSON object');
  const scripts = typeof pkg.scripts === 'object' && pkg.scripts ? pkg.scripts : {};
  const count = (o: unknown) => (typeof o === 'object' && o ? Object.keys(o).length : 0);
  const manager = await nodeManager(dir, pkg.packageManager);
  const [lockfile = null] = await existing(dir, LOCKFILES[manager]);
  const facts: NodeFacts = {
    lockfile,
    manager,
    hasDependencies: count(pkg.dependencies) + count(pkg.devDependencies) > 0,
    hasBuildScript: typeof scripts.build === 'string',
    request: await nodeRequest(dir, pkg.engines),
    installFolders: [],
  };
  let start = web;
  if (!start && typeof scripts.start === 'string') start = { source: 'convention', argv: ['npm', 'start'] };
  if (!start) {
    const candidates = [typeof pkg.main === 'string' ? pkg.main : '', 'index.js', 'server.js', 'app.js'];
    for (const c of candidates) {
      if (c && safeRelative(c) && (await sourceFileExists(dir, c))) {
        start = { source: 'convention', argv: ['node', c] };
        break;
      }
    }
  }
  if (!start) noStart('Node.js', ['a "start" script in package.json', '"main"', 'index.js', 'server.js', 'app.js']);
  // Settings the manager reads at install time (registry, Yarn's linker, pnpm's workspace).
  const settings = await existing(dir, ['.npmrc', ...(manager === 'yarn-berry' ? ['.yarnrc.yml'] : []), ...(manager === 'pnpm' ? ['pnpm-workspace.yaml'] : [])]);
  // Folders the install reads: Berry's own release, plugins and patches; pnpm's patched dependencies.
  const folders = manager === 'yarn-berry' ? ['.yarn'] : manager === 'pnpm' ? ['patches'] : [];
  facts.installFolders = [];
  for (const f of folders) if (await sourceDirExists(dir, f)) facts.installFolders.push(f);
  return { start, manifests: ['package.json', ...(lockfile ? [lockfile] : []), ...settings], node: facts };
}

const LOCKFILES: Record<NodeManager, string[]> = {
  npm: ['package-lock.json', 'npm-shrinkwrap.json'],
  yarn: ['yarn.lock'],
  'yarn-berry': ['yarn.lock'],
  pnpm: ['pnpm-lock.yaml'],
};

async function nodeManager(dir: string, field: unknown): Promise<NodeManager> {
  const named = typeof field === 'string' ? /^(npm|yarn|pnpm)@(\d+)/.exec(field.trim()) : null;
  if (named) return named[1] === 'yarn' ? (named[2] === '1' ? 'yarn' : 'yarn-berry') : (named[1] as NodeManager);
  if (await sourceFileExists(dir, 'pnpm-lock.yaml')) return 'pnpm';
  // Berry's lockfile opens with __metadata (after its header comments); a big lockfile is read only that far.
  const yarnLock = await readSourceHead(dir, 'yarn.lock');
  if (yarnLock === null) return 'npm';
  if (!/^__metadata:/m.test(yarnLock)) return 'yarn';
  // Corepack's default Yarn is 1, which cannot read a Berry lockfile: the app must say which Yarn.
  throw new DetectionError(
    'yarn.lock is a Yarn 2+ (Berry) lockfile but package.json names no Yarn version: add "packageManager": "yarn@4.x.y" (what `corepack use yarn@4` writes)',
  );
}

/** engines.node first (npm and Heroku read it), then nvm's .nvmrc, then .node-version. */
async function nodeRequest(dir: string, engines: { node?: unknown } | undefined): Promise<NodeRequest | null> {
  const engine = typeof engines === 'object' && engines !== null ? engines.node : undefined;
  if (typeof engine === 'string' && engine.trim()) return { file: 'package.json engines.node', asked: engine.trim() };
  for (const file of ['.nvmrc', '.node-version'] as const) {
    const line = ((await readSourceFile(dir, file)) ?? '')
      .split(/\r?\n/)
      .map((l) => l.replace(/#.*/, '').trim())
      .find(Boolean);
    if (line) return { file, asked: line };
  }
  return null;
}

async function detectPython(dir: string, web: StartCommand | null): Promise<LanguagePart> {
  const requirements = ((await readSourceFile(dir, 'requirements.txt')) ?? '')
    .split(/\r?\n/)
    .some((l) => l.trim() !== '' && !l.trim().startsWith('#'));
  const pyproject = (await readSourceFile(dir, 'pyproject.toml')) ?? '';
  const pyprojectDependencies =
    /^\s*dependencies\s*=\s*\[[^\]]*["'][^\]]*\]/m.test(pyproject) ||
    /^\[tool\.poetry\.dependencies\]\s*\n(?:\s*(?:#.*)?\n)*\s*(?!python\s*=)[A-Za-z0-9_.-]+\s*=/m.test(pyproject);
  const pipfile = (await readSourceFile(dir, 'Pipfile')) ?? '';
  const pipfilePackages = /^\[packages\]\s*\n(?:\s*(?:#.*)?\n)*\s*[A-Za-z0-9_."-]+\s*=/m.test(pipfile);
  let start = web;
  const conventional = ['app.py', 'main.py', 'server.py'];
  if (!start) {
    const [file] = await existing(dir, conventional);
    if (file) start = { source: 'convention', argv: ['python3', file] };
  }
  if (!start) noStart('Python', conventional);
  const { manager, lockfile, manifests } = await pythonManager(dir);
  return {
    start,
    manifests: await existing(dir, ['requirements.txt', ...manifests]),
    python: {
      manager,
      lockfile,
      installPaths: lockfile ? await lockedPaths(dir, lockfile) : [],
      requirements,
      pyprojectDependencies,
      pipfilePackages,
      request: await pythonRequest(dir, pyproject),
    },
  };
}

/**
 * uv.lock first, then poetry.lock, then a Pipfile (with or without its lock), else pip. A lockfile
 * is what the app's developers install from, so it wins over a requirements.txt exported beside it.
 */
async function pythonManager(dir: string): Promise<{ manager: PythonManager; lockfile: string | null; manifests: string[] }> {
  if (await sourceFileExists(dir, 'uv.lock')) return { manager: 'uv', lockfile: 'uv.lock', manifests: ['pyproject.toml', 'uv.lock'] };
  if (await sourceFileExists(dir, 'poetry.lock')) return { manager: 'poetry', lockfile: 'poetry.lock', manifests: ['pyproject.toml', 'poetry.lock'] };
  if (await sourceFileExists(dir, 'Pipfile')) {
    const locked = await sourceFileExists(dir, 'Pipfile.lock');
    return { manager: 'pipenv', lockfile: locked ? 'Pipfile.lock' : null, manifests: ['Pipfile', ...(locked ? ['Pipfile.lock'] : [])] };
  }
  return { manager: 'pip', lockfile: null, manifests: [] };
}

/**
 * The local paths a lockfile installs from (poetry.lock's and uv.lock's directory, file and
 * editable sources, Pipfile.lock's "path" and "file" entries, Gemfile.lock's PATH gems), as the top
 * folder or file of each inside the source. URLs, paths leaving the source, or not there, are left
 * for the manager to report.
 */
async function lockedPaths(dir: string, lockfile: string): Promise<string[]> {
  const text = (await readSourceFile(dir, lockfile, 16 * 1024 * 1024)) ?? '';
  const found: string[] = [];
  if (lockfile === 'poetry.lock') {
    for (const m of text.matchAll(/^\[package\.source\]\s*\ntype\s*=\s*"(?:directory|file)"\s*\nurl\s*=\s*"([^"\n]+)"/gm)) found.push(m[1]!);
  } else if (lockfile === 'uv.lock') {
    for (const m of text.matchAll(/^source\s*=\s*\{\s*(?:directory|editable|path)\s*=\s*"([^"\n]+)"/gm)) found.push(m[1]!);
  } else if (lockfile === 'Gemfile.lock') {
    for (const m of text.matchAll(/^PATH\r?\n\s+remote:\s*(\S+)/gm)) found.push(m[1]!);
  } else {
    try {
      const lock = JSON.parse(text) as { default?: Record<string, { path?: unknown; file?: unknown }> };
      for (const entry of Object.values(lock.default ?? {})) {
        for (const p of [entry?.path, entry?.file]) if (typeof p === 'string' && !p.includes('://')) found.push(p);
      }
    } catch {
      // pipenv itself reports a broken lockfile, in the build log.
    }
  }
  const out: string[] = [];
  for (const p of found) {
    const top = p.split('/').filter((s) => s !== '' && s !== '.')[0];
    if (top && safeRelative(top) && /^[A-Za-z0-9._-]+$/.test(top) && !out.includes(top) && (await sourceFileExists(dir, top) || (await sourceDirExists(dir, top)))) out.push(top);
  }
  return out;
}

async function detectGo(dir: string, web: StartCommand | null): Promise<LanguagePart> {
  const gomod = (await readSourceFile(dir, 'go.mod')) ?? '';
  const module = /^\s*module\s+"?([^\s"]+)"?/m.exec(gomod)?.[1] ?? 'app';
  const gosum = (await readSourceFile(dir, 'go.sum')) ?? '';
  let target = '.';
  if (!(await hasGoFiles(path.join(dir)))) {
    const cmds = await goCommandDirs(dir);
    if (cmds.length === 1) target = `./cmd/${cmds[0]}`;
  }
  const last = target === '.' ? module.split('/').pop()! : target.split('/').pop()!;
  const binary = last.replace(/[^A-Za-z0-9_.-]/g, '') || 'app';
  return {
    start: web ?? { source: 'convention', argv: [`/app/bin/${binary}`] },
    manifests: await existing(dir, ['go.mod', 'go.sum']),
    go: {
      hasModules: gosum.trim() !== '',
      vendored: await sourceFileExists(dir, 'vendor/modules.txt'),
      target,
      binary,
      request: goRequest(gomod),
    },
  };
}

async function hasGoFiles(dir: string): Promise<boolean> {
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  return names.some((n) => n.endsWith('.go') && !n.endsWith('_test.go'));
}

async function goCommandDirs(dir: string): Promise<string[]> {
  const cmd = path.join(dir, 'cmd');
  const entries = await fs.readdir(cmd, { withFileTypes: true }).catch(() => []);
  const out: string[] = [];
  for (const e of entries) {
    if (e.isDirectory() && /^[A-Za-z0-9_.-]+$/.test(e.name) && (await hasGoFiles(path.join(cmd, e.name)))) {
      out.push(e.name);
    }
  }
  return out;
}

async function detectRuby(dir: string, web: StartCommand | null): Promise<LanguagePart> {
  const gemfile = (await readSourceFile(dir, 'Gemfile')) ?? '';
  const hasGems = /^\s*gem\s+['"]/m.test(gemfile);
  const lockfile = await sourceFileExists(dir, 'Gemfile.lock');
  let start = web;
  if (!start && hasGems && (await sourceFileExists(dir, 'bin/rails'))) {
    // Rails' server reads $PORT itself.
    start = { source: 'convention', argv: ['bundle', 'exec', 'bin/rails', 'server', '-b', '0.0.0.0'] };
  }
  if (!start && hasGems && (await sourceFileExists(dir, 'config.ru'))) {
    // rackup has no $PORT default, so a fixed shell line expands it; nothing in it comes from data.
    start = { source: 'convention', shell: 'exec bundle exec rackup --host 0.0.0.0 --port "$PORT"' };
  }
  if (!start) {
    const [file] = await existing(dir, ['app.rb', 'main.rb', 'server.rb']);
    if (file) start = { source: 'convention', argv: hasGems ? ['bundle', 'exec', 'ruby', file] : ['ruby', file] };
  }
  if (!start) noStart('Ruby', ['config.ru (with gems)', 'app.rb', 'main.rb', 'server.rb']);
  return {
    start,
    manifests: ['Gemfile', ...(lockfile ? ['Gemfile.lock'] : [])],
    ruby: {
      hasGems,
      lockfile,
      bundledWith: lockfile ? await bundledWith(dir) : null,
      installPaths: lockfile ? await lockedPaths(dir, 'Gemfile.lock') : [],
      request: await rubyRequest(dir, gemfile),
    },
  };
}

/** Gemfile.lock's BUNDLED WITH version (its last section), or null when it has none. */
async function bundledWith(dir: string): Promise<string | null> {
  const text = (await readSourceFile(dir, 'Gemfile.lock')) ?? '';
  return /^BUNDLED WITH\r?\n\s+(\d+(?:\.\d+){0,3})\s*$/m.exec(text)?.[1] ?? null;
}

/** composer.json's require has at least one entry (an unreadable composer.json counts as not). */
async function composerRequires(dir: string): Promise<boolean> {
  try {
    const require = (JSON.parse((await readSourceFile(dir, 'composer.json')) ?? '{}') as { require?: unknown }).require;
    return typeof require === 'object' && require !== null && Object.keys(require).length > 0;
  } catch {
    return false;
  }
}

async function detectPhp(dir: string, web: StartCommand | null): Promise<LanguagePart> {
  const text = await readSourceFile(dir, 'composer.json');
  let manifest: { require?: Record<string, unknown>; repositories?: unknown } = {};
  if (text !== null) {
    try {
      manifest = JSON.parse(text);
    } catch {
      throw new DetectionError('composer.json is not valid JSON');
    }
    if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) throw new DetectionError('composer.json is not a JSON object');
  }
  const php = typeof manifest.require === 'object' && manifest.require !== null ? manifest.require.php : undefined;
  const lockfile = await sourceFileExists(dir, 'composer.lock');
  const installFolders: string[] = [];
  for (const folder of pathRepositories(manifest.repositories)) {
    if (!installFolders.includes(folder) && (await sourceDirExists(dir, folder))) installFolders.push(folder);
  }
  const writable: string[] = [];
  if (await sourceFileExists(dir, 'artisan')) for (const d of ['storage', 'bootstrap/cache']) if (await sourceDirExists(dir, d)) writable.push(d);
  if (await sourceFileExists(dir, 'bin/console')) writable.push('var');
  return {
    // Berth's PHP stack serves the app with nginx in front of php-fpm (scripts/stacks/php/).
    start: web ?? { source: 'convention', argv: ['berth-php-serve'] },
    manifests: text === null ? [] : ['composer.json', ...(lockfile ? ['composer.lock'] : [])],
    php: {
      composer: text !== null,
      lockfile,
      installFolders,
      publicDir: await sourceDirExists(dir, 'public'),
      writable,
      request: typeof php === 'string' && php.trim() ? { file: 'composer.json', asked: php.trim(), kind: 'composer' } : null,
    },
  };
}

/**
 * The folders of composer.json's path repositories that lie inside the source (`packages/greeter`;
 * `packages/*` gives `packages`). Others (outside the source, or not there) are left for Composer to
 * report.
 */
function pathRepositories(repositories: unknown): string[] {
  const list = Array.isArray(repositories) ? repositories : typeof repositories === 'object' && repositories !== null ? Object.values(repositories) : [];
  const out: string[] = [];
  for (const r of list) {
    if (typeof r !== 'object' || r === null || (r as { type?: unknown }).type !== 'path') continue;
    const url = (r as { url?: unknown }).url;
    if (typeof url !== 'string') continue;
    const fixed = url.split('/').filter((p) => p !== '' && p !== '.');
    const glob = fixed.findIndex((p) => /[*?[{]/.test(p));
    const folder = (glob === -1 ? fixed : fixed.slice(0, glob)).join('/');
    if (folder && safeRelative(folder) && /^[A-Za-z0-9._/-]+$/.test(folder)) out.push(folder);
  }
  return out;
}

/**
 * Java: Maven when there is a pom.xml (the stack's own, Debian's), else Gradle through the project's
 * wrapper: Debian 13's Gradle is 4.4, which runs on neither JDK here. Without a Procfile web line the
 * app runs `java -jar` on the jar its build made (berth-java-jar in the stack picks it).
 */
async function detectJava(dir: string, web: StartCommand | null, found: string[]): Promise<LanguagePart> {
  const tool = found.includes('pom.xml') ? 'maven' : 'gradle';
  if (tool === 'gradle' && !(await sourceFileExists(dir, 'gradlew'))) {
    throw new DetectionError(
      `${found.join(', ')} found but no Gradle wrapper (gradlew): Berth builds Gradle projects with their own wrapper, ` +
        "as Debian 13's Gradle (4.4) cannot run on Java 21 or 25; run `gradle wrapper` and commit gradlew and gradle/wrapper/",
    );
  }
  if (tool === 'gradle' && !(await sourceFileExists(dir, 'gradle/wrapper/gradle-wrapper.jar'))) {
    throw new DetectionError('gradlew found but not gradle/wrapper/gradle-wrapper.jar, which it runs: commit the gradle/wrapper/ folder `gradle wrapper` made');
  }
  const start: StartCommand = web ?? { source: 'convention', argv: ['java', '-jar', '/app/berth-app.jar'] };
  return { start, manifests: [], java: { tool, request: await javaRequest(dir, tool === 'maven' ? 'pom.xml' : found[0]!) } };
}

/**
 * system.properties' java.runtime.version first (Heroku's convention: the line to run on), then what
 * the build file compiles for, a minimum: pom.xml's maven.compiler.release, the compiler plugin's
 * <release>, maven.compiler.target, Spring Boot's java.version property (one ${property} is
 * followed); a Gradle toolchain's languageVersion (the line Gradle itself would insist on), else its
 * targetCompatibility or sourceCompatibility.
 */
async function javaRequest(dir: string, buildFile: string): Promise<VersionRequest | null> {
  const props = (await readSourceHead(dir, 'system.properties')) ?? '';
  const runtime = /^\s*java\.runtime\.version\s*[=:]\s*(\S+)\s*$/m.exec(props)?.[1];
  if (runtime) return { file: 'system.properties', asked: runtime };
  const text = ((await readSourceHead(dir, buildFile, 256 * 1024)) ?? '').replace(/<!--[\s\S]*?-->/g, '');
  if (buildFile === 'pom.xml') {
    const element = (name: string) => {
      const tag = name.replace(/\./g, '\\.');
      return new RegExp(`<${tag}>\\s*([^<]*?)\\s*</${tag}>`).exec(text)?.[1];
    };
    for (const name of ['maven.compiler.release', 'release', 'maven.compiler.target', 'java.version']) {
      let value = element(name);
      const ref = value && /^\$\{([\w.-]+)\}$/.exec(value)?.[1];
      if (ref) value = element(ref);
      if (value) return { file: `pom.xml ${name === 'release' ? '<release>' : name}`, asked: value, kind: 'minimum' };
    }
    return null;
  }
  const toolchain = /languageVersion(?:\.set\s*\(|\s*=)\s*JavaLanguageVersion\.of\s*\(\s*["']?(\d+)["']?\s*\)/.exec(text)?.[1];
  if (toolchain) return { file: `${buildFile} toolchain languageVersion`, asked: toolchain };
  const compat = /\b(targetCompatibility|sourceCompatibility)\s*=\s*(?:JavaVersion\.VERSION_)?["']?([\d._]+)["']?/.exec(text);
  return compat ? { file: `${buildFile} ${compat[1]}`, asked: compat[2]!.replace(/_/g, '.'), kind: 'minimum' } : null;
}

/** The first line of a version file that is not blank or a comment, or null. */
async function versionFile(dir: string, file: string): Promise<string | null> {
  const text = (await readSourceHead(dir, file)) ?? '';
  return (
    text
      .split(/\r?\n/)
      .map((l) => l.replace(/#.*/, '').trim())
      .find(Boolean) ?? null
  );
}

/** .python-version first (pyenv, uv), then runtime.txt (Heroku's python-3.13.1), then requires-python. */
async function pythonRequest(dir: string, pyproject: string): Promise<VersionRequest | null> {
  const pinned = await versionFile(dir, '.python-version');
  if (pinned) return { file: '.python-version', asked: pinned };
  const runtime = await versionFile(dir, 'runtime.txt');
  if (runtime) return { file: 'runtime.txt', asked: runtime };
  const requires = /^\s*requires-python\s*=\s*(["'])([^"'\r\n]*)\1/m.exec(pyproject)?.[2]?.trim();
  return requires ? { file: 'pyproject.toml requires-python', asked: requires, kind: 'pep440' } : null;
}

/** go.mod's go line (Go 1.21 and later: the oldest Go that builds the module) and toolchain line. */
function goRequest(gomod: string): VersionRequest | null {
  const go = /^\s*go\s+(\S+)\s*$/m.exec(gomod)?.[1];
  if (!go) return null;
  const toolchain = /^\s*toolchain\s+(\S+)\s*$/m.exec(gomod)?.[1] ?? null;
  return { file: 'go.mod', asked: `${go}${toolchain ? ` with toolchain ${toolchain}` : ''}`, go, toolchain };
}

/** The Gemfile's ruby line first (Bundler enforces it), then .ruby-version (rbenv, chruby, asdf). */
async function rubyRequest(dir: string, gemfile: string): Promise<VersionRequest | null> {
  const line = /^\s*ruby\s*\(?\s*((?:(["'])[^"'\r\n]*\2\s*,?\s*)+)/m.exec(gemfile)?.[1];
  if (line) {
    const parts = [...line.matchAll(/["']([^"']*)["']/g)].map((m) => m[1]!.trim());
    return { file: 'Gemfile', asked: parts.join(', '), kind: 'gem' };
  }
  const pinned = await versionFile(dir, '.ruby-version');
  return pinned ? { file: '.ruby-version', asked: pinned } : null;
}

/** A relative path that stays inside the source (package.json "main" is user data). */
function safeRelative(p: string): boolean {
  const n = path.posix.normalize(p);
  return !path.posix.isAbsolute(n) && n !== '..' && !n.startsWith('../') && !/[\0-\x1f]/.test(n);
}
