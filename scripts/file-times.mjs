// A node:test reporter beside TAP: each test file's time (its top-level tests' durations added up),
// slowest first, so the suite's long poles are known from any run (scripts/test.sh prints them).
export default async function* fileTimes(source) {
  const ms = new Map();
  for await (const ev of source) {
    if ((ev.type === 'test:pass' || ev.type === 'test:fail') && ev.data.nesting === 0 && ev.data.file) {
      ms.set(ev.data.file, (ms.get(ev.data.file) ?? 0) + (ev.data.details?.duration_ms ?? 0));
    }
  }
  const cwd = `${process.cwd()}/`;
  for (const [file, t] of [...ms].sort((a, b) => b[1] - a[1])) yield `${(t / 1000).toFixed(0).padStart(5)} s  ${file.replace(cwd, '')}\n`;
}
