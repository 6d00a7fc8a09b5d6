/** The languages Berth detects in a source tree and builds without a Dockerfile (builder/detect.ts). */
export type Language = 'node' | 'python' | 'go' | 'ruby';

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
};

export function stackImage(language: Language, env: NodeJS.ProcessEnv = process.env): string {
  const d = DEFAULTS[language];
  return env[d.env]?.trim() || d.image;
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
  };
}
