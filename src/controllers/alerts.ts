import type { Logger } from 'pino';
import type { Clock } from './deps.js';
import { everyBucket } from './bucket-loop.js';
import type { Db } from '../store/db.js';
import type { Events } from '../domain/events.js';
import { deliveriesFor } from '../domain/notifications.js';
import { insertDeliveries } from '../store/notifications.js';
import type { Fence } from '../store/leases.js';
import { FINE_S } from '../domain/metrics.js';
import { decodeMounts } from '../store/app-columns.js';
import * as store from '../store/alerts.js';
import { INITIAL, RULES, RULE_IDS, alertMessage, p95ResponseMs, effective, rate5xx, step, type AlertState, type RuleId, type RuleSetting, type TrafficSums } from '../domain/alerts.js';

export interface AlertDeps {
  db: Db;
  log: Logger;
  clock: Clock;
  events: Events;
  routerDomain: string;
  /** Where the router answers HTTP (the app's link in a message). */
  routerHttpPort: number;
  /** The leader's term: a deposed leader's pass writes no state and tells nothing (null: SQLite, one instance). */
  fence: Fence;
  /** Multiplies every rule's window, hold and clear time (BERTH_ALERT_TIME_SCALE; 1 in production). */
  timeScale: number;
  /** Bytes a volume uses (a helper container runs du): measured every VOLUME_EVERY_S at most. */
  volumeUsage(v: { id: string; project_id: string }): Promise<number | null>;
}

type App = Awaited<ReturnType<typeof store.alertedApps>>[number];
type Inputs = Awaited<ReturnType<AlertController['inputs']>>;

const NO_TRAFFIC: TrafficSums = { requests: 0, r5xx: 0, weighted_ms: 0, weighted_requests: 0, restarts: 0 };

const VOLUME_EVERY_S = 300;
/** A memory reading older than this says nothing of now (the app stopped, sampling failed). */
const MEMORY_FRESH_S = 60;

const ms = (iso: string | null) => (iso === null ? null : Date.parse(iso));
const iso = (t: number) => new Date(t).toISOString();

/**
 * Evaluates every app's alert rules every 10 s, just after the metrics controller's sample, and keeps
 * each rule's state in the database (store/alerts.ts): pending while a breach has not yet held for
 * the rule's time, firing, and clear for how long. A rule that starts firing or resolves records an
 * event (alert.firing, alert.resolved) and the deliveries to the app's notification targets, which
 * the notification controller sends. A transition, its event and its deliveries are one transaction,
 * written only on the state's version this pass read and while this leader's lease holds: a crash
 * loses none of it, and an overlapping writer (a deposed leader) tells nothing, so each transition
 * is told once.
 */
export class AlertController {
  private readonly stopping = new AbortController();
  private loop: Promise<void> | null = null;
  /** Volume fullness by app, with when it was measured (ms). */
  private volumes = new Map<string, { at: number; value: number | null }>();

  constructor(private readonly d: AlertDeps) {}

  start(): void {
    // 2 s after the next 10 s boundary: the metrics controller has written that bucket by then.
    this.loop = everyBucket(this.d.clock, this.stopping.signal, 2000, () => this.pass(), (err) => this.d.log.warn({ err }, 'alert evaluation failed'));
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
  }

  /** One evaluation of every rule of every app. Exposed for tests. */
  async pass(): Promise<void> {
    const now = this.d.clock.now();
    const [apps, settings, states] = await Promise.all([store.alertedApps(this.d.db), store.allRules(this.d.db), store.allStates(this.d.db)]);
    const settingOf = new Map(settings.map((r) => [`${r.app_id}/${r.rule}`, { enabled: r.enabled === 1, threshold: r.threshold } satisfies RuleSetting]));
    const stateOf = new Map(states.map((s) => [`${s.app_id}/${s.rule}`, s]));
    const inputs = await this.inputs(now);
    // A value that moved without a change of status is written with the others in one statement at
    // the end (one round trip instead of one per row); transitions are written and told one by one.
    const moved: store.AlertStateRow[] = [];
    for (const app of apps) {
      if (this.stopping.signal.aborted) return;
      await this.evaluate(app, now, inputs, settingOf, stateOf, moved).catch((err) => this.d.log.warn({ err, app: app.slug }, 'alert evaluation of an app failed'));
    }
    if (moved.length) await store.writeValues(this.d.db, moved, this.d.fence);
  }

  /** What every rule reads, for every app at once: a few queries a pass, whatever the number of apps. */
  private async inputs(now: number) {
    const db = this.d.db;
    const nowS = Math.floor(now / 1000);
    // A bucket at t counts what happened in [t - 10 s, t): a window's buckets are those whose time
    // lies inside it, and at least the newest one.
    const from = (id: RuleId) => Math.min(nowS - RULES[id].window_s * this.d.timeScale + FINE_S, Math.floor(nowS / FINE_S) * FINE_S);
    const froms = [...new Set((['http_5xx_rate', 'response_time_p95', 'restarts'] as const).map(from))];
    const [traffic, memory, hosts, certs, addons, backups, volumes] = await Promise.all([
      Promise.all(froms.map(async (f) => [f, await store.trafficSumsByApp(db, FINE_S, f, nowS + 1)] as const)).then((r) => new Map(r)),
      store.peakReplicaMemoryByApp(db, FINE_S, nowS - MEMORY_FRESH_S),
      store.verifiedHostsByApp(db),
      store.issuedExpiry(db),
      store.addonsByApp(db),
      store.newestBackupFailed(db),
      store.sizedVolumes(db),
    ]);
    return { traffic: (id: RuleId, app: string) => traffic.get(from(id))?.get(app) ?? NO_TRAFFIC, memory, hosts, certs, addons, backups, volumes };
  }

  private async evaluate(app: App, now: number, inputs: Inputs, settingOf: Map<string, RuleSetting>, stateOf: Map<string, store.AlertStateRow>, moved: store.AlertStateRow[]): Promise<void> {
    const rules = RULE_IDS.map((id) => effective(RULES[id], settingOf.get(`${app.id}/${id}`), this.d.timeScale));
    const values = await this.measure(app, now, inputs, new Set(rules.filter((r) => r.enabled).map((r) => r.id)));
    for (const rule of rules) {
      const row = stateOf.get(`${app.id}/${rule.id}`);
      const prev: AlertState = row ? { status: row.status, since: ms(row.since)!, clear_since: ms(row.clear_since), value: row.value } : INITIAL;
      const value = rule.enabled ? values[rule.id] : null;
      const { next, told } = step(prev, rule, value, now);
      const same = row && next.status === prev.status && next.since === prev.since && next.clear_since === prev.clear_since && next.value === prev.value;
      if (same) continue;
      const write = {
        app_id: app.id,
        rule: rule.id,
        status: next.status,
        since: iso(next.since || now),
        clear_since: next.clear_since === null ? null : iso(next.clear_since),
        value: next.value,
        updated_at: iso(now),
      };
      if (row && next.status === prev.status && !told) {
        moved.push({ ...write, version: row.version });
        continue;
      }
      const written = await store.writeState(this.d.db, write, row?.version ?? null, this.d.fence, async (tx) => {
        if (!told) return null;
        const ev = await this.d.events.write(tx, {
          project_id: app.project_id,
          app_id: app.id,
          kind: told === 'firing' ? 'alert.firing' : 'alert.resolved',
          message: alertMessage(rule, told, next.value, app.slug),
          data: { rule: rule.id, title: rule.title, value: next.value, threshold: rule.threshold, unit: rule.unit, ...(rule.enabled ? {} : { turned_off: true }) },
          actor: { system: 'alerts' },
        });
        await insertDeliveries(tx, await deliveriesFor(tx, ev, app.id, { domain: this.d.routerDomain, httpPort: this.d.routerHttpPort }));
        return ev;
      });
      // Told only once committed: the notification controller sends the deliveries written with it.
      if (written?.then) this.d.events.publish(written.then);
    }
  }

  /** Each enabled rule's value now (null: nothing to measure). */
  private async measure(app: App, now: number, inputs: Inputs, wanted: Set<RuleId>): Promise<Record<RuleId, number | null>> {
    const out = Object.fromEntries(RULE_IDS.map((id) => [id, null])) as Record<RuleId, number | null>;
    if (wanted.has('http_5xx_rate')) out.http_5xx_rate = rate5xx(inputs.traffic('http_5xx_rate', app.id));
    if (wanted.has('response_time_p95')) out.response_time_p95 = p95ResponseMs(inputs.traffic('response_time_p95', app.id));
    if (wanted.has('restarts')) out.restarts = inputs.traffic('restarts', app.id).restarts;
    if (wanted.has('memory') && app.memory_mb > 0) {
      const peak = inputs.memory.get(app.id);
      out.memory = peak === undefined ? null : (peak / app.memory_mb) * 100;
    }
    if (wanted.has('certificate_expiry')) {
      const hosts = [`${app.slug}.${this.d.routerDomain}`, ...(inputs.hosts.get(app.id) ?? [])];
      const left = hosts.flatMap((h) => {
        const at = inputs.certs.get(h);
        return at ? [(Date.parse(at) - now) / 86_400_000] : [];
      });
      out.certificate_expiry = left.length ? Math.min(...left) : null;
    }
    const mounts = decodeMounts(app.volumes);
    if (wanted.has('backup_failed')) {
      const owners = [...(inputs.addons.get(app.id) ?? []).map((id) => `addon:${id}`), ...mounts.map((m) => `volume:${m.volume_id}`)];
      out.backup_failed = owners.filter((o) => inputs.backups.get(o) === true).length;
    }
    if (wanted.has('volume_full')) out.volume_full = await this.volumeFullness(app, mounts.flatMap((m) => inputs.volumes.get(m.volume_id) ?? []), now);
    return out;
  }

  private async volumeFullness(app: App, volumes: { id: string; project_id: string; size_mb: number | null }[], now: number): Promise<number | null> {
    if (!volumes.length) return null;
    const last = this.volumes.get(app.id);
    if (last && now - last.at < Math.max(FINE_S, VOLUME_EVERY_S * this.d.timeScale) * 1000) return last.value;
    let value: number | null = null;
    for (const v of volumes) {
      const used = await this.d.volumeUsage(v).catch(() => null);
      if (used === null || !v.size_mb) continue;
      value = Math.max(value ?? 0, (used / (v.size_mb * 1024 * 1024)) * 100);
    }
    this.volumes.set(app.id, { at: now, value });
    return value;
  }
}
