import { useSyncExternalStore } from 'react';

/**
 * The action the user just started on an app (restart, scale, stop, start, deploy, rollback), so the
 * app page can follow it to its end wherever the button was (the overview, the rollback dialog).
 * One at a time: a new action replaces the one shown.
 */
export type Action =
  | { kind: 'restart'; before: string[]; replicas: number }
  | { kind: 'scale'; replicas: number }
  | { kind: 'start'; replicas: number }
  | { kind: 'stop' }
  | { kind: 'deploy'; version: number; replicas: number }
  | { kind: 'rollback'; version: number; replicas: number };
export type Tracked = Action & { app: string; started: number };

let current: Tracked | null = null;
const listeners = new Set<() => void>();
const emit = () => listeners.forEach((l) => l());

export function track(app: string, action: Action): void {
  current = { ...action, app, started: performance.now() };
  emit();
}

export function dismiss(): void {
  current = null;
  emit();
}

export function useTracked(app: string): Tracked | null {
  const t = useSyncExternalStore(
    (l) => (listeners.add(l), () => void listeners.delete(l)),
    () => current,
  );
  return t?.app === app ? t : null;
}
