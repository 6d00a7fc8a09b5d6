import { DetectionError } from './errors.js';
import { quote } from './node-version.js';
import type { LangLine } from '../config-stacks.js';
import type { PythonFacts, RubyFacts } from './detect.js';

/**
 * Which package manager installs a Python or Ruby app's dependencies on the line chosen for it, and
 * whether that line's stack has it: one line for the build log, or a DetectionError before anything
 * is built. `line` is null for an operator's image (BERTH_STACK_PYTHON, BERTH_STACK_RUBY): what it
 * carries is the operator's business, and the generated Dockerfile names a missing manager itself.
 * README.md (after the Node.js package managers) says what each case does and why.
 */

const PYTHON_NAMES = { pip: 'pip', pipenv: 'Pipenv', poetry: 'Poetry', uv: 'uv' } as const;

/**
 * The Python installer's log line, or null when nothing is installed. An app with uv.lock on a
 * Berth stack (Debian packages no uv) is installed from its requirements.txt with pip when it has
 * one (facts.manager becomes pip, and the line says uv.lock is not read), else refused.
 */
export function pythonInstaller(facts: PythonFacts, line: LangLine | null): string | null {
  const where = line ? `Python ${line.line} (${line.source})` : 'the operator\'s image';
  const tool = (name: 'pip' | 'pipenv' | 'poetry' | 'uv') => {
    const version = line?.tools?.[name as keyof NonNullable<LangLine['tools']>];
    return `${PYTHON_NAMES[name]}${version ? ` ${version} (${line!.source}'s)` : ''}`;
  };
  switch (facts.manager) {
    case 'uv':
      if (!line) return `Installing with uv from uv.lock (uv sync --frozen --no-dev): the image must carry uv`;
      if (!facts.requirements) {
        throw new DetectionError(
          `uv.lock asks for uv, which Debian does not package, so ${where} here has none: commit a requirements.txt made from the lock ` +
            '(uv export --no-dev --format requirements-txt > requirements.txt), which Berth installs with pip, or ask the operator for an image with uv (BERTH_STACK_PYTHON)',
        );
      }
      facts.manager = 'pip';
      return `Installing with ${tool('pip')} from requirements.txt: uv.lock is not read, as Debian packages no uv (keep requirements.txt exported from the lock)`;
    case 'poetry':
      if (line && !line.tools?.poetry) throw new DetectionError(`poetry.lock asks for Poetry, and ${where} here has none`);
      return `Installing with ${tool('poetry')} from poetry.lock (its main group; the project itself runs from /app)`;
    case 'pipenv':
      if (!facts.pipfilePackages) return null;
      if (line && !line.tools?.pipenv) throw new DetectionError(`the Pipfile asks for Pipenv, and ${where} here has none`);
      return facts.lockfile
        ? `Installing with ${tool('pipenv')} from Pipfile.lock (--deploy: the build fails if it is out of date with the Pipfile)`
        : `Installing with ${tool('pipenv')} from the Pipfile: no Pipfile.lock, so versions are resolved afresh`;
    case 'pip':
      if (facts.requirements) return `Installing with ${tool('pip')} from requirements.txt`;
      if (facts.pyprojectDependencies) return `Installing with ${tool('pip')} from pyproject.toml (the project itself, with its dependencies)`;
      return null;
  }
}

/**
 * Bundler: the stack's own, Debian's. Gemfile.lock's BUNDLED WITH of another major release fails the
 * build (Heroku runs the Bundler major a lockfile names, and a different major resolves and installs
 * differently); the same major installs with the stack's Bundler, which is told not to fetch the
 * locked one from RubyGems (facts.systemBundler). An operator's image keeps Bundler's own rules.
 */
export function bundlerInstaller(facts: RubyFacts, line: LangLine | null): string | null {
  if (!facts.hasGems) return null;
  const asked = facts.bundledWith;
  const note = asked ? `Gemfile.lock was BUNDLED WITH ${asked}` : facts.lockfile ? 'Gemfile.lock has no BUNDLED WITH' : 'no Gemfile.lock';
  const have = line?.tools?.bundler;
  if (!line || !have) return `Installing gems with the image's Bundler; ${note}`;
  if (asked && major(asked) !== major(have)) {
    throw new DetectionError(
      `Gemfile.lock was BUNDLED WITH ${quote(asked)}; Ruby ${line.line} (${line.source}) here has Bundler ${have}, another major release: ` +
        `relock with Bundler ${major(have)} (bundle update --bundler=${have}) and commit Gemfile.lock`,
    );
  }
  if (!/^\d+(\.\d+){0,3}$/.test(have)) throw new Error(`the Ruby ${line.line} stack's Bundler version ${JSON.stringify(have)} is not a version`);
  facts.systemBundler = have;
  const same = asked === have ? ', as Gemfile.lock\'s BUNDLED WITH says' : asked ? `; ${note}, the same major release, so not fetched` : `; ${note}`;
  return `Installing gems with Bundler ${have} (${line.source}'s)${same}`;
}

const major = (version: string) => version.split('.')[0];
