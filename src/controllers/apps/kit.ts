import type { ControllerDeps } from '../deps.js';
import type { AppRow } from '../../store/apps.js';

/** What every step of the app controller works with: the controller's deps and its own run state. */
export interface AppKit extends ControllerDeps {
  /** Aborts when the control plane stops: waits end, and nothing is judged on the way out. */
  signal: AbortSignal;
  /** Last exit code per engine container, from die events (a restarted container no longer shows it). */
  exits: Map<string, number | null>;
  /** Containers the engine reported out of memory: its own flag is lost once its restart policy started it again. */
  ooms: Set<string>;
  /** Logs an error of a replica step that failed beside the one reported. */
  alsoFailed(err: unknown): void;
  /** Reconciles the app again in about ms (once, however often asked meanwhile). */
  lookAgain(appId: string, ms: number): void;
}

/** Raised inside a rollout when a newer deploy replaced its release: the rollout stops and the next one takes over. */
export class Superseded extends Error {}

/**
 * Replicas a scale-up starts at once: the usual scale in one wave, while a scale to hundreds does
 * not send hundreds of creates and health probes to the engine at the same moment.
 */
export const START_CONCURRENCY = 10;

export async function event(k: AppKit, app: AppRow, kind: string, message: string, data?: Record<string, unknown>) {
  await k.events.record({ project_id: app.project_id, app_id: app.id, kind, message, data, actor: { system: 'apps' } });
}

/** from, from + 1, ..., to - 1. */
export const range = (from: number, to: number): number[] => Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);

/**
 * Runs fn over items, at most `limit` at a time. After the first error no new item starts, but the
 * ones under way finish before this returns (so the caller's per-app serialization holds); then it
 * rejects with the first error and hands the others to `also`.
 */
export async function eachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>, also?: (err: unknown) => void): Promise<void> {
  let next = 0;
  const errors: unknown[] = [];
  const worker = async () => {
    while (next < items.length && errors.length === 0) {
      const item = items[next++];
      await fn(item).catch((err: unknown) => errors.push(err));
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  for (const err of errors.slice(1)) also?.(err);
  if (errors.length) throw errors[0];
}
