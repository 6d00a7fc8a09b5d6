import { pino } from 'pino';
import { world, type World } from './harness.js';
import { AlertController, type AlertDeps } from '../../src/controllers/alerts.js';
import { Events } from '../../src/domain/events.js';
import { upsertSamples, type MetricRow } from '../../src/store/metrics.js';
import { statesOf } from '../../src/store/alerts.js';

// The alert evaluator against a real (SQLite) store with metric samples written as the metrics
// controller writes them, and a clock that moves only when the test moves it.

export const T0 = 1_800_000_000_000; // a 10 s boundary

export const errors = { requests: 100, r5xx: 50, r2xx: 50, response_ms: 50 };
export const fine = { requests: 100, r5xx: 0, r2xx: 100, response_ms: 50 };

export interface Rig {
  w: World;
  events: Events;
  alerts: AlertController;
  /** A new evaluator on the same database, as after a restart or a leader change. */
  restart(): void;
  /** Another evaluator on the same database, with its own clock, volume measurer or fence. */
  make(over?: Partial<AlertDeps>): AlertController;
  /** Moves the clock by s seconds, writing one 10 s bucket per 10 s passed, then evaluates. */
  advance(s: number, bucket?: Partial<MetricRow>, replicas?: Partial<MetricRow>[]): Promise<void>;
  told(): Promise<{ kind: string; message: string; data: Record<string, unknown> | null }[]>;
  state(rule: string): Promise<{ status: string; since: string; value: number | null; version: number } | undefined>;
  usage: Map<string, number | null>;
}

export async function rig(t: { after(fn: () => Promise<void>): void }): Promise<Rig> {
  const w = await world({ replicas: 1 });
  t.after(() => w.close());
  w.clock.t = T0;
  const db = w.store.db;
  const events = new Events(db);
  const usage = new Map<string, number | null>();
  const make = (over: Partial<AlertDeps> = {}) =>
    new AlertController({
      db, log: pino({ level: 'silent' }), clock: w.clock, events, routerDomain: 'test', routerHttpPort: 80, fence: null, timeScale: 1,
      volumeUsage: async (v) => usage.get(v.id) ?? null, ...over,
    });
  const r: Rig = {
    w,
    events,
    alerts: make(),
    usage,
    make,
    restart() {
      r.alerts = make();
    },
    async advance(s, bucket = {}, replicas = []) {
      for (let i = 0; i < s; i += 10) {
        w.clock.t += 10_000;
        const tt = Math.floor(w.clock.t / 1000) - 10;
        const row = (replica: string, b: Partial<MetricRow>): MetricRow => ({
          app_id: w.appId, res: 10, t: tt, replica, span_s: 10, requests: 0, r2xx: 0, r3xx: 0, r4xx: 0, r5xx: 0,
          response_ms: null, p50_ms: null, p95_ms: null, p99_ms: null, sessions: null, cpu_percent: null, memory_mb: null, restarts: 0, ...b,
        });
        await upsertSamples(db, [row('', bucket), ...replicas.map((b, n) => row(String(n), b))]);
        await r.alerts.pass();
      }
    },
    async told() {
      const rows = await db.selectFrom('events').select(['kind', 'message', 'data']).where('app_id', '=', w.appId).where('kind', 'like', 'alert.%').orderBy('id').execute();
      return rows.map((e) => ({ kind: e.kind, message: e.message, data: e.data ? (JSON.parse(e.data) as Record<string, unknown>) : null }));
    },
    async state(rule) {
      return (await statesOf(db, w.appId)).find((s) => s.rule === rule);
    },
  };
  return r;
}
