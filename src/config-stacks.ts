/** The languages Berth detects in a source tree and builds without a Dockerfile (builder/detect.ts). */
export type Language = 'node' | 'python' | 'go' | 'ruby' | 'php';

/**
 * The image each language builds FROM. Defaults are the offline-capable images made by
 * scripts/stacks.sh; an operator whose server reaches a registry can point a language at an
 * official image instead (BERTH_STACK_NODE=node:20-bookworm-slim, say).
 */
const DEFAULTS: Record<Language, { env: string; image: string }> = {
  node: { env: 'BERTH_STACK_NODE', image: 'berth/stack-node:bookworm' },
  python: { env: 'BERTH_STACK_PYTHON', image: 'berth/stack-python:bookworm' },
  go: { env: 'BERTH_STACK_GO', image: 'berth/stack-go:bookworm' },
  ruby: { env: 'BERTH_STACK_RUBY', image: 'berth/stack-ruby:bookworm' },
  // No Debian 12 stack: PHP is Debian 13's 8.4 line only.
  php: { env: 'BERTH_STACK_PHP', image: 'berth/stack-php:8.4-trixie' },
};

export function stackImage(language: Language, env: NodeJS.ProcessEnv = process.env): string {
  const d = DEFAULTS[language];
  return env[d.env]?.trim() || d.image;
}

/**
 * The Node.js lines a build may ask for, newest first; the first is the default for an app that
 * asks for none. 24 and 22 are the official binaries (scripts/stacks.sh makes their stacks from the
 * npm registry, at exactly these versions); 18 is Debian 12's own, past its end of life, kept for
 * apps that still ask for it.
 */
export const NODE_LINES = [
  { major: 24, version: '24.22.3', image: 'berth/stack-node:24-bookworm', corepack: true },
  { major: 22, version: '22.23.5', image: 'berth/stack-node:22-bookworm', corepack: true },
  { major: 18, version: '18.20.4', image: 'berth/stack-node:bookworm', corepack: false },
] as const;

export interface NodeLine {
  major: number;
  version: string;
  image: string;
  /** Yarn and pnpm through Corepack (Debian's Node.js 18 stack has neither). */
  corepack: boolean;
}

/**
 * The Node.js lines this server builds with, or null when the operator pinned one image for every
 * Node.js app (BERTH_STACK_NODE): then the app's own choice cannot be honoured, and the build says so.
 */
export function nodeLines(env: NodeJS.ProcessEnv = process.env): NodeLine[] | null {
  return env.BERTH_STACK_NODE?.trim() ? null : NODE_LINES.map((l) => ({ ...l }));
}

/** A Python, Go, Ruby or PHP line a build may ask for: Debian's package of it, in its own stack image. */
export interface LangLine {
  /** major.minor: what an app's request is matched against, and what the build log names. */
  line: string;
  /** The release Debian carried when the line was added, compared against ranges that name a patch. */
  version: string;
  image: string;
  /** Where the line comes from, for the build log. */
  source: string;
  /**
   * The package managers its stack carries (Debian's packages, scripts/stacks.sh), at the upstream
   * version Debian ships; one missing here is not in the stack (Debian packages no uv).
   */
  tools?: Partial<Record<'pip' | 'pipenv' | 'poetry' | 'bundler', string>>;
}

export type VersionedLanguage = 'python' | 'go' | 'ruby' | 'php';

/**
 * The Python, Go, Ruby and PHP lines a build may ask for, newest first; the first is the default for
 * an app that asks for none. Debian 13's are made by scripts/stacks.sh (a unit test holds the two
 * equal); Debian 12's own stacks stay as the older lines. Go 1.25 to 1.27 are trixie-backports'.
 * PHP's stack also carries php-fpm, nginx and Composer (berth-php-serve runs the web process).
 */
export const LANGUAGE_LINES: Record<VersionedLanguage, readonly LangLine[]> = {
  python: [
    { line: '3.13', version: '3.13.5', image: 'berth/stack-python:3.13-trixie', source: 'Debian 13', tools: { pip: '25.1.1', pipenv: '2024.0.1', poetry: '2.1.2' } },
    { line: '3.11', version: '3.11.2', image: 'berth/stack-python:bookworm', source: 'Debian 12', tools: { pip: '23.0.1', pipenv: '2022.12.19', poetry: '1.3.2' } },
  ],
  go: [
    { line: '1.27', version: '1.27.4', image: 'berth/stack-go:1.27-trixie', source: 'Debian 13 backports' },
    { line: '1.26', version: '1.26.11', image: 'berth/stack-go:1.26-trixie', source: 'Debian 13 backports' },
    { line: '1.25', version: '1.25.12', image: 'berth/stack-go:1.25-trixie', source: 'Debian 13 backports' },
    { line: '1.24', version: '1.24.4', image: 'berth/stack-go:1.24-trixie', source: 'Debian 13' },
    { line: '1.19', version: '1.19.8', image: 'berth/stack-go:bookworm', source: 'Debian 12' },
  ],
  ruby: [
    { line: '3.3', version: '3.3.8', image: 'berth/stack-ruby:3.3-trixie', source: 'Debian 13', tools: { bundler: '2.6.7' } },
    { line: '3.1', version: '3.1.2', image: 'berth/stack-ruby:bookworm', source: 'Debian 12', tools: { bundler: '2.3.15' } },
  ],
  php: [{ line: '8.4', version: '8.4.27', image: 'berth/stack-php:8.4-trixie', source: 'Debian 13' }],
};

/**
 * The lines of a language this server builds with, or null when the operator pinned one image for
 * every app of it (BERTH_STACK_<LANGUAGE>): then the app's own choice cannot be honoured, and the build says so.
 */
export function languageLines(language: VersionedLanguage, env: NodeJS.ProcessEnv = process.env): LangLine[] | null {
  return env[DEFAULTS[language].env]?.trim() ? null : LANGUAGE_LINES[language].map((l) => ({ ...l }));
}

export function allLanguageLines(env: NodeJS.ProcessEnv = process.env): Record<VersionedLanguage, LangLine[] | null> {
  return { python: languageLines('python', env), go: languageLines('go', env), ruby: languageLines('ruby', env), php: languageLines('php', env) };
}

/** The image compiled languages (Go) run in: no toolchain, just the Debian base. */
export function runtimeImage(env: NodeJS.ProcessEnv = process.env): string {
  return env.BERTH_BASE_IMAGE?.trim() || 'berth/base:bookworm';
}

export function stackImages(env: NodeJS.ProcessEnv = process.env): Record<Language, string> {
  return {
    node: stackImage('node', env),
    python: stackImage('python', env),
    go: stackImage('go', env),
    ruby: stackImage('ruby', env),
    php: stackImage('php', env),
  };
}
