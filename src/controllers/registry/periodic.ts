/**
 * A periodic pass that never overlaps itself (a tick while one runs is skipped); a failure is
 * reported once until its message changes, so a registry that stays down does not flood the log.
 * `now`: the first pass runs at once. The timer does not keep the process alive.
 */
export function periodic(ms: number, pass: () => Promise<unknown>, report: (message: string) => void, now = true): NodeJS.Timeout {
  let busy = false;
  let last = '';
  const tick = () => {
    if (busy) return;
    busy = true;
    pass()
      .then(
        () => (last = ''),
        (err: unknown) => {
          const msg = err instanceof Error ? err.message : String(err);
          if (msg !== last) report(msg);
          last = msg;
        },
      )
      .finally(() => (busy = false));
  };
  if (now) tick();
  const timer = setInterval(tick, ms);
  timer.unref();
  return timer;
}
