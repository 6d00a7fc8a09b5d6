/**
 * The labels Berth puts on engine objects, named once. Reconcile finds its containers by them, so
 * a key spelt differently in one place would make Berth lose track of what it made.
 */
export const LABEL = {
  /** This installation (several may share one engine). */
  instance: 'berth.instance',
  /** Set on everything Berth creates, whatever else it carries. */
  managed: 'berth.managed',
  project: 'berth.project',
  app: 'berth.app',
  release: 'berth.release',
  version: 'berth.version',
  replica: 'berth.replica',
  gen: 'berth.gen',
  container: 'berth.container',
  /** The Procfile process type a replica runs (web, worker, ...). */
  process: 'berth.process',
  build: 'berth.build',
  /** A one-off or release command's run id. Runs carry no berth.app label: the app controller leaves them alone. */
  run: 'berth.run',
  /** The app a run belongs to. */
  runApp: 'berth.run-app',
  volume: 'berth.volume',
  /** The short container that makes a new volume writable (its value: the volume). */
  volumeHelper: 'berth.volume-helper',
  /** A container made (never started) only to read an image's /etc/passwd and /etc/group. */
  imageReader: 'berth.image-reader',
} as const;

const OURS = new Set<string>(Object.values(LABEL));

/**
 * The labels of a container Berth creates: exactly the ones it chose. A container inherits its
 * image's labels, and images Berth builds carry `berth.instance` and `berth.app`; so a one-off
 * command in a built image looked like a replica with no row and was removed as a stray (SIGKILL)
 * milliseconds after it started. A key of ours that the image carries and the spec does not set
 * is blanked, which overrides the image's value: a blank label matches no `key=value` filter.
 */
export function containerLabels(chosen: Record<string, string>, imageLabels: Record<string, string>): Record<string, string> {
  const blank = Object.fromEntries(Object.keys(imageLabels).filter((k) => OURS.has(k) && !(k in chosen)).map((k) => [k, '']));
  return { ...blank, ...chosen, [LABEL.managed]: 'true' };
}
