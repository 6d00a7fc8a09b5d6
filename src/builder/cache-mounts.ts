/**
 * Download caches kept between builds: a generated step that downloads packages mounts its tool's
 * cache directory (`RUN --mount=type=cache,...`, BuildKit's syntax, which buildah reads), so a
 * rebuild after a lockfile change downloads only what changed. Berth's builder keeps these
 * directories per project (src/imagebuild/build-cache.ts): one project's build never sees another's.
 *
 * The engine's classic builder (a remote engine, src/imagebuild/engine-builder.ts) has no cache
 * mounts: there each step cleans its cache in the same layer, as before.
 */
export type CacheKind = 'npm' | 'yarn' | 'yarn-berry' | 'pnpm' | 'corepack' | 'python' | 'gomod' | 'gobuild' | 'bundler' | 'composer' | 'maven' | 'gradle';

interface CacheDir {
  /** The tool's own default for root (generated RUN steps run as root, HOME=/root). */
  dir: string;
  /** One step at a time per project: for tools whose cache is not made for concurrent writers. */
  locked: boolean;
  /** A variable the tool needs to use the directory (put before the step's command). */
  env?: string;
}

export const CACHE_DIRS: Record<CacheKind, CacheDir> = {
  npm: { dir: '/root/.npm', locked: false },
  // Yarn 1 run as root keeps its cache here, not under HOME.
  yarn: { dir: '/usr/local/share/.cache/yarn', locked: true },
  // Berry 2 and 3 default to a cache inside the project (the image layer); the global one is the mount.
  'yarn-berry': { dir: '/root/.yarn/berry', locked: true, env: 'YARN_ENABLE_GLOBAL_CACHE=true' },
  pnpm: { dir: '/root/.local/share/pnpm/store', locked: false },
  // Corepack downloads Yarn and pnpm themselves.
  corepack: { dir: '/root/.cache/node/corepack', locked: true },
  // pip's, Pipenv's, Poetry's and uv's caches are all under it.
  python: { dir: '/root/.cache', locked: true },
  gomod: { dir: '/root/go/pkg/mod', locked: false },
  gobuild: { dir: '/root/.cache/go-build', locked: false },
  // Without the global gem cache Bundler keeps .gem files only under BUNDLE_PATH (in the layer).
  bundler: { dir: '/root/.bundle/cache', locked: true, env: 'BUNDLE_GLOBAL_GEM_CACHE=true' },
  // Composer's default depends on XDG variables; named here so the mount is the one it uses.
  composer: { dir: '/root/.cache/composer', locked: true, env: 'COMPOSER_CACHE_DIR=/root/.cache/composer' },
  // Maven's local repository: what came from Maven Central (Debian's own repository is in the stack).
  maven: { dir: '/root/.m2/repository', locked: true },
  // The wrapper's Gradle distributions and Gradle's dependency caches.
  gradle: { dir: '/root/.gradle', locked: true },
};

/** The `--mount` flag of one cache (its id names the directory in the project's cache). */
export function cacheMount(kind: CacheKind): string {
  const c = CACHE_DIRS[kind];
  return `--mount=type=cache,id=${kind},target=${c.dir}${c.locked ? ',sharing=locked' : ''}`;
}

/**
 * A download step. With caches: the mounts, the variables the tools need, the command. Without:
 * the command and then `clean` (a cache left in the layer would ship in the image).
 */
export function downloadStep(cache: boolean, kinds: CacheKind[], command: string, clean?: string): string {
  if (!cache || !kinds.length) return `RUN ${command}${clean ? ` && ${clean}` : ''}`;
  return ['RUN', ...kinds.map(cacheMount), ...kinds.flatMap((k) => CACHE_DIRS[k].env ?? []), command].join(' ');
}
