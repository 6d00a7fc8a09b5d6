import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkQueue } from '../../src/controllers/apps/queue.js';

test('queue: one run at a time per key; work asked for during a run makes exactly one more run', async () => {
  const log: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const q = new WorkQueue(async (key) => {
    log.push(`start ${key}`);
    if (log.length === 1) await gate;
    log.push(`end ${key}`);
  }, () => assert.fail('no error expected'));
  const first = q.schedule('a');
  const again = [q.schedule('a'), q.schedule('a')];
  const other = q.schedule('b');
  await other;
  release();
  await Promise.all([first, ...again]);
  assert.deepEqual(log, ['start a', 'start b', 'end b', 'end a', 'start a', 'end a']);
  await q.stop();
});

test('queue: a failed run is retried by itself after a backoff that doubles, and a success resets it', async () => {
  const delays: number[] = [];
  let failing = 3;
  const runs: number[] = [];
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const q = new WorkQueue(
    async () => {
      runs.push(runs.length);
      if (failing-- > 0) throw new Error('engine down');
      done();
    },
    (_err, _key, retryInMs) => delays.push(retryInMs),
    { baseMs: 5, maxMs: 12 },
  );
  // The queue's retry timers do not hold the process open; this test's wait does.
  const keep = setInterval(() => {}, 1000);
  await q.schedule('a');
  await finished;
  clearInterval(keep);
  await q.stop();
  assert.deepEqual(delays, [5, 10, 12], 'doubling, capped');
  assert.equal(runs.length, 4);
  assert.equal(q.failuresOf('a'), 0);
});

test('queue: stop cancels pending retries and waits for the runs under way', async () => {
  let runs = 0;
  const q = new WorkQueue(async () => {
    runs++;
    throw new Error('fails');
  }, () => {}, { baseMs: 1, maxMs: 1 });
  await q.schedule('a');
  await q.stop();
  const after = runs;
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(runs, after, 'no retry after stop');
});
