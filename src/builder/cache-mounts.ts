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
  /** A variable the tool needs to use the directory (put before the step's command). */
  env?: string;
}

export const CACHE_DIRS: Record<CacheKind, CacheDir> = {
  npm: { dir: '/root/.npm' },
  // Yarn 1 run as root keeps its cache here, not under HOME.
  yarn: { dir: '/usr/local/share/.cache/yarn' },
  // Berry 2 and 3 default to a cache inside the project (the image layer); the global one is the mount.
  'yarn-berry': { dir: '/root/.yarn/berry', env: 'YARN_ENABLE_GLOBAL_CACHE=true' },
  pnpm: { dir: '/root/.local/share/pnpm/store' },
  // Corepack downloads Yarn and pnpm themselves.
  corepack: { dir: '/root/.cache/node/corepack' },
  // pip's, Pipenv's, Poetry's and uv's caches are all under it.
  python: { dir: '/root/.cache' },
  gomod: { dir: '/root/go/pkg/mod' },
  gobuild: { dir: '/root/.cache/go-build' },
  // Without the global gem cache Bundler keeps .gem files only under BUNDLE_PATH (in the layer).
  bundler: { dir: '/root/.bundle/cache', env: 'BUNDLE_GLOBAL_GEM_CACHE=true' },
  // Composer's default depends on XDG variables; named here so the mount is the one it uses.
  composer: { dir: '/root/.cache/composer', env: 'COMPOSER_CACHE_DIR=/root/.cache/composer' },
  // Maven's local repository: what came from Maven Central (Debian's own repository is in the stack).
  maven: { dir: '/root/.m2/repository' },
  // The wrapper's Gradle distributions and Gradle's dependency caches.
  gradle: { dir: '/root/.gradle' },
};

/** The `--mount` flag of one cache (its id names the directory in the project's cache). */
/**
 * Shared, never `sharing=locked`: buildah 1.28 keeps a locked cache's lock file inside the cache
 * folder, where a build step could replace it with a link to a host path that the next locked build
 * opens as root. Two builds of one project at once may then write one cache together: the package
 * managers' own cache formats are written file by file (npm, pip, Go and Gradle lock or rename), and
 * the worst a clash does is a failed build of that project, not another's.
 */
export function cacheMount(kind: CacheKind): string {
  const c = CACHE_DIRS[kind];
  return `--mount=type=cache,id=${kind},target=${c.dir}`;
}

/**
 * A download step. With caches: the mounts, the variables the tools need, the command. Without:
 * the command and then `clean` (a cache left in the layer would ship in the image).
 */
export function downloadStep(cache: boolean, kinds: CacheKind[], command: string, clean?: string): string {
  if (!cache || !kinds.length) return `RUN ${command}${clean ? ` && ${clean}` : ''}`;
  return ['RUN', ...kinds.map(cacheMount), ...kinds.flatMap((k) => CACHE_DIRS[k].env ?? []), command].join(' ');
}
