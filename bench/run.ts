import { join, resolve } from 'node:path';
import { runOk } from '../src/lib/exec.js';
import { Bench, ROOT } from './support/context.js';
import { table, writeResults, type Row } from './support/report.js';
import { router } from './figures/router.js';
import { routerJoin } from './figures/router-join.js';
import { routerRestart } from './figures/router-restart.js';
import { deploy } from './figures/deploy.js';
import { build } from './figures/build.js';
import { buildLanguages } from './figures/build-languages.js';
import { scale } from './figures/scale.js';
import { zeroDowntime } from './figures/zero-downtime.js';
import { controlPlane } from './figures/control-plane.js';
import { dashboard } from './figures/dashboard.js';
import { addons } from './figures/addons.js';
import { volumeBackups } from './figures/volumes.js';
import { cluster } from './figures/cluster.js';
import { metricsHistory } from './figures/metrics-history.js';
import { metricsIdle } from './figures/metrics-idle.js';
import { alerts } from './figures/alerts.js';
import { logDrains } from './figures/log-drains.js';
import { logStore } from './figures/log-store.js';
import { takeover } from './figures/takeover.js';
import { pitr } from './figures/pitr.js';

/**
 * Berth's benchmarks: each figure beside its baseline, measured in the same run on this machine.
 * Usage: node dist/bench/run.js [router router-join router-restart deploy build build-languages scale zero-downtime control-plane dashboard addons volume-backups metrics-history metrics-idle alerts log-drains log-store takeover cluster pitr]  (default: all but cluster, pitr and build-languages)
 * Not part of the test suite. Needs the Docker Engine; PostgreSQL is started by scripts/postgres.sh
 * unless BERTH_TEST_PG_URL names one.
 */
const FIGURES: Record<string, (b: Bench) => Promise<Row[]>> = {
  router,
  'router-join': routerJoin,
  'router-restart': routerRestart,
  deploy,
  build,
  'build-languages': buildLanguages,
  scale,
  'zero-downtime': zeroDowntime,
  'control-plane': controlPlane,
  dashboard,
  addons,
  'volume-backups': volumeBackups,
  cluster,
  'metrics-history': metricsHistory,
  'metrics-idle': metricsIdle,
  alerts,
  'log-drains': logDrains,
  'log-store': logStore,
  takeover,
  pitr,
};

/**
 * Figures run only when named: the cluster one starts three Docker-in-Docker nodes and takes
 * minutes; pitr loads 1 GB into an add-on and writes for 5 minutes (BENCH_PITR_MB, BENCH_PITR_WINDOW_S);
 * build-languages builds five languages cold and warm on both sides (about ten minutes).
 */
const OPT_IN = new Set(['cluster', 'pitr', 'build-languages']);

async function main() {
  const asked = process.argv.slice(2);
  const unknown = asked.filter((a) => !(a in FIGURES));
  if (unknown.length) {
    console.error(`unknown figure(s): ${unknown.join(', ')}; choose from: ${Object.keys(FIGURES).join(' ')}`);
    process.exit(2);
  }
  const names = asked.length ? Object.keys(FIGURES).filter((n) => asked.includes(n)) : Object.keys(FIGURES).filter((n) => !OPT_IN.has(n));
  const startedAt = new Date().toISOString();

  // The same idempotent set-up the test command uses: engine up, base images present.
  const script = (name: string, ...args: string[]) => runOk('bash', [join(ROOT, 'scripts', name), ...args], { timeoutMs: 900_000 });
  await script('docker.sh');
  await script('base-image.sh');
  if (names.includes('build-languages')) await script('stacks.sh');
  else if (names.includes('build')) await script('stacks.sh', 'node');
  if (names.includes('addons')) await script('addons.sh', 'postgres');
  if (names.includes('pitr')) await script('addons.sh', 'postgres17');

  const bench = new Bench();
  const rows: Row[] = [];
  const errors: Record<string, string> = {};
  const stop = async () => {
    console.error('bench: interrupted; cleaning up');
    await bench.cleanup();
    process.exit(130);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  // A figure's stray promise that fails outside its await (a load loop) must not leave its control
  // planes, containers and volumes behind: the same clean-up as an interrupt.
  process.once('unhandledRejection', (err) => {
    console.error('bench: unhandled failure:', err);
    void bench.cleanup().finally(() => process.exit(1));
  });
  try {
    for (const name of names) {
      const t0 = Date.now();
      process.stderr.write(`bench: ${name}...\n`);
      try {
        const got = await FIGURES[name](bench);
        rows.push(...got);
        for (const r of got) process.stderr.write(`  ${r.figure}: ${r.berth.toFixed(2)} vs ${r.baseline.toFixed(2)} ${r.unit}${r.note ? ` (${r.note})` : ''}\n`);
      } catch (err) {
        errors[name] = (err as Error).stack ?? String(err);
        process.stderr.write(`bench: ${name} failed: ${errors[name]}\n`);
      }
      process.stderr.write(`bench: ${name} took ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
    }
  } finally {
    await bench.cleanup();
  }

  console.log(table(rows));
  const notes = rows.filter((r) => r.note).map((r) => `${r.figure}: ${r.note}`);
  const paths = await writeResults(resolve(ROOT, 'bench/results'), { startedAt, figures: names, rows, errors, notes });
  console.log(`\nwrote ${paths.join(' and ')}`);
  if (Object.keys(errors).length) {
    console.error(`failed: ${Object.keys(errors).join(', ')}`);
    process.exit(1);
  }
}

await main();
