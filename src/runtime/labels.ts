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
  build: 'berth.build',
  /** A one-off or release command's run id. Runs carry no berth.app label: the app controller leaves them alone. */
  run: 'berth.run',
  /** The app a run belongs to. */
  runApp: 'berth.run-app',
  volume: 'berth.volume',
  /** The short container that makes a new volume writable (its value: the volume). */
  volumeHelper: 'berth.volume-helper',
} as const;
