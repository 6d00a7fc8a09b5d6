/**
 * A command typed as one line, the way the CLI's --release-command and the dashboard take it: a JSON
 * array as is; otherwise words split on spaces (no shell: quotes are not interpreted); "" → none.
 * Throws an Error naming what is wrong with a JSON array that is not one of strings.
 */
export function parseArgv(text: string): string[] {
  const t = text.trim();
  if (t === '') return [];
  if (!t.startsWith('[')) return t.split(/\s+/);
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch {
    throw new Error('a command starting with "[" must be a JSON array of strings');
  }
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new Error('a command starting with "[" must be a JSON array of strings');
  return v as string[];
}

/** The other way: words joined by spaces, or a JSON array when a word holds a space or is empty. */
export const formatArgv = (argv: string[]): string => (argv.some((w) => w === '' || /\s/.test(w)) ? JSON.stringify(argv) : argv.join(' '));
