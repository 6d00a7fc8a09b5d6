/** What a terminal socket takes from this terminal. */
type TerminalMessage = { type: 'input'; text: string } | { type: 'resize'; cols: number; rows: number };

/**
 * Connects this terminal to a remote one (a run's, an add-on session's): raw mode, each key sent as
 * an input message, size changes as resize messages. Keys typed before the socket opens are kept
 * and sent once it does (typing ahead works). Pass `onOpen` to the stream; call `restore` when it ends.
 */
export function rawTerminal(): { onOpen: (send: (msg: TerminalMessage) => void) => void; restore: () => void } {
  const stdin = process.stdin;
  const raw = stdin.isTTY;
  let send: ((msg: TerminalMessage) => void) | null = null;
  const early: string[] = [];
  const onKeys = (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    if (send) send({ type: 'input', text });
    else early.push(text);
  };
  const onResize = () => send?.({ type: 'resize', cols: process.stdout.columns || 80, rows: process.stdout.rows || 24 });
  if (raw) stdin.setRawMode(true);
  stdin.on('data', onKeys);
  process.stdout.on('resize', onResize);
  return {
    onOpen: (s) => {
      send = s;
      if (process.stdout.isTTY) onResize();
      for (const text of early.splice(0)) s({ type: 'input', text });
    },
    restore: () => {
      if (raw) stdin.setRawMode(false);
      stdin.off('data', onKeys);
      stdin.pause();
      process.stdout.off('resize', onResize);
    },
  };
}
