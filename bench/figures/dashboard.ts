import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ROOT, type Bench } from '../support/context.js';
import { row, type Row } from '../support/report.js';
import { launchChromium } from '../../test/support/browser.js';

const APPS = 1000;
const LOADS = 7;

/**
 * The dashboard: gzipped JavaScript of its first screen against a React "hello" built by the same
 * Vite (the floor of the framework it is built on), and the time until a project's list of 1,000
 * apps is on screen (first page of 100 rows, in Debian's Chromium) against the same screen for an
 * empty project (what the page costs before any app); and how long a change takes to show up on
 * an open page through the events WebSocket, against the API call that made it.
 */
export async function dashboard(b: Bench): Promise<Row[]> {
  const web = join(ROOT, 'dist', 'web');
  const first = await firstScreenJs(web);
  const hello = await helloReactJs();
  const rows: Row[] = [
    row({
      group: 'dashboard',
      figure: 'dashboard: first-screen JavaScript (gzip)',
      unit: 'KB',
      berth: first,
      baseline: hello,
      baselineName: 'React hello world, same Vite build',
      better: 'lower',
      note: 'goal < 250 KB',
    }),
  ];

  const s = await b.startServer('sqlite');
  const dev = await s.newUser('viewer-bench');
  await dev.call('createProject', { body: { name: 'many' } });
  await dev.call('createProject', { body: { name: 'empty' } });
  let next = 0;
  const worker = async () => {
    while (next < APPS) {
      const i = next++;
      await dev.call('createApp', { body: { name: `app-${String(i).padStart(4, '0')}`, project: 'many' } });
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));

  const browser = await launchChromium();
  try {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(`${s.url}/login`);
    await page.getByLabel('Username', { exact: true }).fill('viewer-bench');
    await page.getByLabel('Password', { exact: true }).fill('pw-viewer-bench-secret');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Projects' }).waitFor();
    /** ms from navigation start until the list shows `rows` rows and its count, median of LOADS loads. */
    const load = async (project: string, rows: number, count: string) => {
      const times: number[] = [];
      for (let i = 0; i < LOADS; i++) {
        await page.goto(`${s.url}/projects/${project}`);
        await page.waitForFunction(
          ([n, c]) => document.querySelectorAll('section[aria-label=Apps] tbody tr').length === n && document.body.textContent!.includes(c),
          [rows, count] as const,
          { timeout: 30_000, polling: 'raf' },
        );
        times.push(await page.evaluate(() => performance.now()));
      }
      return times.sort((x, y) => x - y)[Math.floor(LOADS / 2)];
    };
    const many = await load('many', 100, `${APPS} apps`);
    const empty = await load('empty', 0, '0 apps');
    rows.push(
      row({
        group: 'dashboard',
        figure: `dashboard: apps list of ${APPS} apps on screen`,
        unit: 'ms',
        berth: many,
        baseline: empty,
        baselineName: 'the same screen, empty project',
        better: 'lower',
        note: `goal < 1000 ms; first page of 100 rows; median of ${LOADS} loads in headless Chromium`,
      }),
    );
    // Live updates: a change made through the API, until the events page shows it (no reload).
    await page.goto(`${s.url}/events`);
    await page.getByRole('heading', { name: 'Events' }).waitFor();
    const onScreen: number[] = [];
    const call: number[] = [];
    for (let i = 0; i < LOADS; i++) {
      // Canceling a waiting build records its event and answers at once: the event is the call's last step.
      const b = await dev.call('createBuild', { params: { id: 'app-0000' } });
      const marker = `build #${b.number} canceled`;
      const seen = page.waitForFunction((m) => document.querySelector('ol.events')?.textContent?.includes(m), marker, { timeout: 30_000, polling: 'raf' });
      const t0 = performance.now();
      await dev.call('cancelBuild', { params: { id: b.id } });
      call.push(performance.now() - t0);
      await seen;
      onScreen.push(performance.now() - t0);
    }
    const median = (xs: number[]) => xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)];
    rows.push(
      row({
        group: 'dashboard',
        figure: 'dashboard: a change on screen, live (no reload)',
        unit: 'ms',
        berth: median(onScreen),
        baseline: median(call),
        baselineName: 'the API call that made the change',
        better: 'lower',
        note: `goal < 1000 ms; POST /api/v1/builds/{id}/cancel until its event shows on /events; median of ${LOADS}`,
      }),
    );
  } finally {
    await browser.close();
  }
  return rows;
}

/** Gzipped size (KB) of the scripts index.html loads before anything else. */
async function firstScreenJs(dir: string): Promise<number> {
  const html = await readFile(join(dir, 'index.html'), 'utf8');
  const srcs = [...html.matchAll(/<(?:script[^>]*src|link[^>]*rel="modulepreload"[^>]*href)="([^"]+\.js)"/g)].map((m) => m[1]);
  if (!srcs.length) throw new Error(`no script in ${dir}/index.html: run npm run build`);
  let bytes = 0;
  for (const src of srcs) bytes += gzipSync(await readFile(join(dir, src))).length;
  return bytes / 1024;
}

/** Builds a one-component React app with the dashboard's Vite set-up and measures it the same way. */
async function helloReactJs(): Promise<number> {
  const dir = join(ROOT, 'bench', 'results', '.hello-react');
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'index.html'), '<!doctype html><div id="root"></div><script type="module" src="./main.jsx"></script>');
  await writeFile(join(dir, 'main.jsx'), "import { createRoot } from 'react-dom/client';\ncreateRoot(document.getElementById('root')).render(<h1>hello</h1>);\n");
  const { build } = await import('vite');
  const { default: react } = await import('@vitejs/plugin-react');
  await build({ root: dir, logLevel: 'warn', configFile: false, plugins: [react()], build: { outDir: join(dir, 'dist'), modulePreload: { polyfill: false } } });
  const size = await firstScreenJs(join(dir, 'dist'));
  await rm(dir, { recursive: true, force: true });
  return size;
}

