import type { Clock } from './deps.js';
import { FINE_S } from '../domain/metrics.js';

/**
 * Runs `pass` once per 10 s metrics bucket, `afterMs` past each bucket's start, until `signal`
 * aborts. A failed pass is handed to `onError` and the loop goes on. The metrics sampler and the
 * alert evaluator run on it, the evaluator later in the bucket than the sampler that feeds it.
 */
export async function everyBucket(clock: Clock, signal: AbortSignal, afterMs: number, pass: () => Promise<void>, onError: (err: unknown) => void): Promise<void> {
  while (!signal.aborted) {
    await pass().catch(onError);
    const nowMs = clock.now();
    await clock.sleep((Math.floor(nowMs / 1000 / FINE_S) + 1) * FINE_S * 1000 - nowMs + afterMs, signal);
  }
}
