import type { Logger } from 'pino';
import type { Clock } from './deps.js';
import type { Db } from '../store/db.js';
import type { Events } from '../domain/events.js';
import { FINE_S } from '../domain/metrics.js';
import { decodeMounts } from '../store/app-columns.js';
import * as store from '../store/alerts.js';
import { INITIAL, RULES, RULE_IDS, alertMessage, avgResponseMs, effective, rate5xx, step, type AlertState, type RuleId, type RuleSetting } from '../domain/alerts.js';

export interface AlertDeps {
  db: Db;
  log: Logger;
  clock: Clock;
  events: Events;
  routerDomain: string;
  /** Multiplies every rule's window, hold and clear time (BERTH_ALERT_TIME_SCALE; 1 in production). */
  timeScale: number;
  /** Bytes a volume uses (a helper container runs du): measured every VOLUME_EVERY_S at most. */
  volumeUsage(v: { id: string; project_id: string }): Promise<number | null>;
}

type App = Awaited<ReturnType<typeof store.alertedApps>>[number];

const VOLUME_EVERY_S = 300;
/** A memory reading older than this says nothing of now (the app stopped, sampling failed). */
const MEMORY_FRESH_S = 60;

const ms = (iso: string | null) => (iso === null ? null : Date.parse(iso));
const iso = (t: number) => new Date(t).toISOString();

/**
 * Evaluates every app's alert rules every 10 s, just after the metrics controller's sample, and keeps
 * each rule's state in the database (store/alerts.ts): pending while a breach has not yet held for
 * the rule's time, firing, and clear for how long. A rule that starts firing or resolves records an
 * event (alert.firing, alert.resolved), which the notification controller tells the app's targets.
 * The state is written before the event, and only if no other writer changed it meanwhile, so a
 * restart or a leader change neither tells a transition twice nor forgets one that is under way.
 */
export class AlertController {
  private readonly stopping = new AbortController();
  private loop: Promise<void> | null = null;
  /** Volume fullness by app, with when it was measured (ms). */
  private volumes = new Map<string, { at: number; value: number | null }>();

  constructor(private readonly d: AlertDeps) {}

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      await this.pass().catch((err) => this.d.log.warn({ err }, 'alert evaluation failed'));
      // 2 s after the next 10 s boundary: the metrics controller has written that bucket by then.
      const nowMs = this.d.clock.now();
      await this.d.clock.sleep((Math.floor(nowMs / 1000 / FINE_S) + 1) * FINE_S * 1000 - nowMs + 2000, signal);
    }
  }

  /** One evaluation of every rule of every app. Exposed for tests. */
  async pass(): Promise<void> {
    const now = this.d.clock.now();
    const [apps, settings, states] = await Promise.all([store.alertedApps(this.d.db), store.allRules(this.d.db), store.allStates(this.d.db)]);
    const settingOf = new Map(settings.map((r) => [`${r.app_id}/${r.rule}`, { enabled: r.enabled === 1, threshold: r.threshold } satisfies RuleSetting]));
    const stateOf = new Map(states.map((s) => [`${s.app_id}/${s.rule}`, s]));
    for (const app of apps) {
      if (this.stopping.signal.aborted) return;
      await this.evaluate(app, now, settingOf, stateOf).catch((err) => this.d.log.warn({ err, app: app.slug }, 'alert evaluation of an app failed'));
    }
  }

  private async evaluate(app: App, now: number, settingOf: Map<string, RuleSetting>, stateOf: Map<string, store.AlertStateRow>): Promise<void> {
    const rules = RULE_IDS.map((id) => effective(RULES[id], settingOf.get(`${app.id}/${id}`), this.d.timeScale));
    const values = await this.measure(app, now, new Set(rules.filter((r) => r.enabled).map((r) => r.id)));
    for (const rule of rules) {
      const row = stateOf.get(`${app.id}/${rule.id}`);
      const prev: AlertState = row ? { status: row.status, since: ms(row.since)!, clear_since: ms(row.clear_since), value: row.value } : INITIAL;
      const value = rule.enabled ? values[rule.id] : null;
      const { next, told } = step(prev, rule, value, now);
      const same = row && next.status === prev.status && next.since === prev.since && next.clear_since === prev.clear_since && next.value === prev.value;
      if (same) continue;
      const written = await store.writeState(
        this.d.db,
        { app_id: app.id, rule: rule.id, status: next.status, since: iso(next.since || now), clear_since: next.clear_since === null ? null : iso(next.clear_since), value: next.value, updated_at: iso(now) },
        row?.status ?? null,
      );
      if (!written || !told) continue;
      await this.d.events.record({
        project_id: app.project_id,
        app_id: app.id,
        kind: told === 'firing' ? 'alert.firing' : 'alert.resolved',
        message: alertMessage(rule, told, next.value, app.slug),
        data: { rule: rule.id, title: rule.title, value: next.value, threshold: rule.threshold, unit: rule.unit, ...(rule.enabled ? {} : { turned_off: true }) },
        actor: { system: 'alerts' },
      });
    }
  }

  /** Each enabled rule's value now (null: nothing to measure). */
  private async measure(app: App, now: number, wanted: Set<RuleId>): Promise<Record<RuleId, number | null>> {
    const nowS = Math.floor(now / 1000);
    const out = Object.fromEntries(RULE_IDS.map((id) => [id, null])) as Record<RuleId, number | null>;
    // A bucket at t counts what happened in [t - 10 s, t): the window's buckets are those whose time
    // lies inside it, and at least the newest one.
    const from = (id: RuleId) => Math.min(nowS - RULES[id].window_s * this.d.timeScale + FINE_S, Math.floor(nowS / FINE_S) * FINE_S);
    // The 5xx and response time rules share their window: one read for both.
    const read = new Map<number, ReturnType<typeof store.trafficSums>>();
    const sums = (id: RuleId) => {
      const f = from(id);
      if (!read.has(f)) read.set(f, store.trafficSums(this.d.db, app.id, FINE_S, f, nowS + 1));
      return read.get(f)!;
    };
    const db = this.d.db;
    if (wanted.has('http_5xx_rate')) out.http_5xx_rate = rate5xx(await sums('http_5xx_rate'));
    if (wanted.has('response_time_avg')) out.response_time_avg = avgResponseMs(await sums('response_time_avg'));
    if (wanted.has('restarts')) out.restarts = (await sums('restarts')).restarts;
    if (wanted.has('memory') && app.memory_mb > 0) {
      const peak = await store.peakReplicaMemory(db, app.id, FINE_S, nowS - MEMORY_FRESH_S);
      out.memory = peak === null ? null : (peak / app.memory_mb) * 100;
    }
    if (wanted.has('certificate_expiry')) {
      const hosts = [`${app.slug}.${this.d.routerDomain}`, ...(await store.verifiedHostsOf(db, app.id))];
      const left = (await store.certificateExpiry(db, hosts)).filter((c) => c.not_after).map((c) => (Date.parse(c.not_after!) - now) / 86_400_000);
      out.certificate_expiry = left.length ? Math.min(...left) : null;
    }
    const mounts = decodeMounts(app.volumes);
    if (wanted.has('backup_failed')) {
      const owners = [
        ...(await store.addonsOfApp(db, app.id)).map((id) => ({ kind: 'addon' as const, id })),
        ...mounts.map((m) => ({ kind: 'volume' as const, id: m.volume_id })),
      ];
      let failed = 0;
      for (const o of owners) {
        const b = await store.newestFinishedBackup(db, o);
        if (b && (b.status === 'failed' || b.verify_status === 'failed')) failed++;
      }
      out.backup_failed = failed;
    }
    if (wanted.has('volume_full')) out.volume_full = await this.volumeFullness(app, mounts, now);
    return out;
  }

  private async volumeFullness(app: App, mounts: { volume_id: string }[], now: number): Promise<number | null> {
    const last = this.volumes.get(app.id);
    if (last && now - last.at < Math.max(FINE_S, VOLUME_EVERY_S * this.d.timeScale) * 1000) return last.value;
    let value: number | null = null;
    for (const v of await store.volumesByIds(this.d.db, mounts.map((m) => m.volume_id))) {
      if (!v.size_mb) continue;
      const used = await this.d.volumeUsage(v).catch(() => null);
      if (used === null) continue;
      value = Math.max(value ?? 0, (used / (v.size_mb * 1024 * 1024)) * 100);
    }
    this.volumes.set(app.id, { at: now, value });
    return value;
  }
}
