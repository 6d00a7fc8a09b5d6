import { createInterface } from 'node:readline';

let piped: Promise<string[]> | null = null;

/** Piped input is read whole once, so several prompts can each take their line. */
function pipedLines(): Promise<string[]> {
  piped ??= new Promise((resolve, reject) => {
    let text = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (c) => (text += c));
    process.stdin.on('end', () => resolve(text.split(/\r?\n/)));
    process.stdin.on('error', reject);
  });
  return piped;
}

/** Reads one answer; on a terminal with hidden set, nothing typed is echoed. */
export async function ask(question: string, hidden = false): Promise<string> {
  if (!process.stdin.isTTY) {
    const lines = await pipedLines();
    const line = lines.shift();
    if (line === undefined || (line === '' && lines.length === 0)) throw new Error(`no answer for "${question.trim()}" on standard input`);
    return line;
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  if (hidden) {
    const out = rl as unknown as { _writeToOutput: (s: string) => void; output: NodeJS.WritableStream };
    out._writeToOutput = (s: string) => {
      if (s.startsWith(question)) out.output.write(question);
    };
  }
  return new Promise((resolve) => {
    rl.question(question, (answer) => {
      rl.close();
      if (hidden) process.stderr.write('\n');
      resolve(answer);
    });
  });
}

/** A destructive action goes on only when the user types the name (or passed it with --confirm). */
export async function confirmTyped(name: string, given: string | undefined, question: string): Promise<void> {
  const answer = given ?? (await ask(question));
  if (answer.trim() !== name) throw new Error(`confirmation "${answer.trim()}" does not match "${name}": nothing was deleted`);
}
