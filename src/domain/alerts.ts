/**
 * Alert rules (docs/operations.md, "Alerts"): what each measures, its default threshold, and how
 * long a breach must hold before it fires and a clear spell before it resolves. Every app has every
 * rule without set-up; an app may turn one off or change its threshold (alert_rules rows).
 */

export const RULE_IDS = ['http_5xx_rate', 'response_time_p95', 'restarts', 'memory', 'volume_full', 'certificate_expiry', 'backup_failed'] as const;
export type RuleId = (typeof RULE_IDS)[number];

export interface RuleDef {
  id: RuleId;
  title: string;
  /** What the threshold is counted in. */
  unit: string;
  /** above: fires when the value is over the threshold; below: when under it. */
  fires: 'above' | 'below';
  threshold: number;
  /** Bounds a threshold set through the API must stay within. */
  min: number;
  max: number;
  /** The history a value is measured over (0: the newest reading). */
  window_s: number;
  /** A breach must last this long before the rule fires. */
  for_s: number;
  /** Once firing, the value must stay clear this long before the rule resolves. */
  clear_s: number;
  /**
   * Firing, a reading with nothing to judge (null) holds the rule as it is (firing, its clear spell
   * restarted) instead of counting as clear: silence is not a fix.
   */
  holdsUnjudged?: boolean;
  describe: string;
}

/**
 * Fewer requests than this over the window are too few to judge a rate by: the 5xx rule neither
 * fires on them nor resolves on them, unless not one of them was a 5xx (rate5xx).
 */
export const MIN_REQUESTS = 20;

export const RULES: Record<RuleId, RuleDef> = {
  http_5xx_rate: {
    id: 'http_5xx_rate', title: '5xx responses', unit: '%', fires: 'above', threshold: 5, min: 0, max: 100,
    window_s: 300, for_s: 60, clear_s: 120, holdsUnjudged: true,
    describe: `share of responses with a 5xx status over the last 5 minutes (at least ${MIN_REQUESTS} requests; once firing, fewer keep it firing unless none is a 5xx)`,
  },
  response_time_p95: {
    id: 'response_time_p95', title: 'p95 response time', unit: 'ms', fires: 'above', threshold: 1000, min: 1, max: 600_000,
    window_s: 300, for_s: 120, clear_s: 120, holdsUnjudged: true,
    describe: "the 95th percentile of response times (time to the response's headers) over the last 5 minutes: each 10 s bucket's p95, weighted by its requests (once firing, a window without requests keeps it firing)",
  },
  restarts: {
    id: 'restarts', title: 'replica restarts', unit: 'restarts', fires: 'above', threshold: 2, min: 0, max: 10_000,
    window_s: 600, for_s: 0, clear_s: 600,
    describe: 'restarts of the app\'s replicas by the engine (crashes) over the last 10 minutes: a crash loop',
  },
  memory: {
    id: 'memory', title: 'memory near its limit', unit: '%', fires: 'above', threshold: 90, min: 1, max: 100,
    window_s: 0, for_s: 120, clear_s: 60,
    describe: "the busiest web replica's memory use as a share of the app's memory limit",
  },
  volume_full: {
    id: 'volume_full', title: 'volume nearly full', unit: '%', fires: 'above', threshold: 90, min: 1, max: 100,
    window_s: 0, for_s: 0, clear_s: 0,
    describe: 'the fullest mounted volume with a size set: bytes used (du) as a share of its size; measured every 5 minutes',
  },
  certificate_expiry: {
    id: 'certificate_expiry', title: 'certificate about to expire', unit: 'days', fires: 'below', threshold: 14, min: 1, max: 365,
    window_s: 0, for_s: 0, clear_s: 0,
    describe: "days left before the app's soonest-expiring certificate (its own host and verified custom domains)",
  },
  backup_failed: {
    id: 'backup_failed', title: 'backup failed', unit: 'failed', fires: 'above', threshold: 0, min: 0, max: 100,
    window_s: 0, for_s: 0, clear_s: 0,
    describe: "add-ons attached to the app and volumes it mounts whose newest backup, or that backup's restore check, failed",
  },
};

export const isRuleId = (s: string): s is RuleId => (RULE_IDS as readonly string[]).includes(s);

/** An app's choice for one rule (no row: the defaults). */
export interface RuleSetting {
  enabled: boolean;
  /** Null: the rule's default. */
  threshold: number | null;
}

/** The rule with an app's settings and the time scale applied (BERTH_ALERT_TIME_SCALE shortens every window, for tests). */
export function effective(def: RuleDef, setting: RuleSetting | undefined, timeScale = 1) {
  return {
    ...def,
    enabled: setting?.enabled ?? true,
    threshold: setting?.threshold ?? def.threshold,
    window_s: def.window_s * timeScale,
    for_s: def.for_s * timeScale,
    clear_s: def.clear_s * timeScale,
  };
}
export type EffectiveRule = ReturnType<typeof effective>;

export const breaches = (r: Pick<RuleDef, 'fires'> & { threshold: number }, value: number | null) =>
  value !== null && (r.fires === 'above' ? value > r.threshold : value < r.threshold);

export type AlertStatus = 'ok' | 'pending' | 'firing';

/** One app's rule as the evaluator left it (alert_states): kept in the database, so a restart resumes it. */
export interface AlertState {
  status: AlertStatus;
  /** When the status began (ms). */
  since: number;
  /** Firing and clear since (ms): resolves once this has lasted clear_s. */
  clear_since: number | null;
  /** The last value measured (null: nothing to measure). */
  value: number | null;
}

export const INITIAL: AlertState = { status: 'ok', since: 0, clear_since: null, value: null };

export interface Step {
  next: AlertState;
  /** What to tell: it began firing, or it resolved. */
  told: 'firing' | 'resolved' | null;
}

/**
 * The next state of one rule from the last one and a new value, at `now` (ms). A breach must hold
 * for `for_s` before the rule fires (pending meanwhile; one clear reading sends it back to ok), and
 * a firing rule must stay clear for `clear_s` before it resolves (a breach meanwhile keeps it
 * firing): no flapping. A rule turned off resolves at once if it was firing. A firing rule that
 * holds when unjudged (holdsUnjudged) treats a null reading as a breach: it resolves only on readings.
 */
export function step(prev: AlertState, rule: EffectiveRule, value: number | null, now: number): Step {
  if (!rule.enabled) {
    return { next: { status: 'ok', since: prev.status === 'ok' ? prev.since : now, clear_since: null, value }, told: prev.status === 'firing' ? 'resolved' : null };
  }
  const bad = breaches(rule, value);
  switch (prev.status) {
    case 'ok':
      if (!bad) return { next: { ...prev, value }, told: null };
      if (rule.for_s <= 0) return { next: { status: 'firing', since: now, clear_since: null, value }, told: 'firing' };
      return { next: { status: 'pending', since: now, clear_since: null, value }, told: null };
    case 'pending':
      if (!bad) return { next: { status: 'ok', since: now, clear_since: null, value }, told: null };
      if (now - prev.since >= rule.for_s * 1000) return { next: { status: 'firing', since: now, clear_since: null, value }, told: 'firing' };
      return { next: { ...prev, value }, told: null };
    case 'firing': {
      if (bad || (value === null && rule.holdsUnjudged)) return { next: { ...prev, clear_since: null, value }, told: null };
      const clearSince = prev.clear_since ?? now;
      if (now - clearSince >= rule.clear_s * 1000) return { next: { status: 'ok', since: now, clear_since: null, value }, told: 'resolved' };
      return { next: { ...prev, clear_since: clearSince, value }, told: null };
    }
  }
}

const fmt = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(1));

/** The message of an alert's event (and so of its notification). */
export function alertMessage(rule: EffectiveRule, told: 'firing' | 'resolved', value: number | null, slug: string): string {
  const cmp = rule.fires === 'above' ? 'over' : 'under';
  const v = value === null ? 'no value' : `${fmt(value)} ${rule.unit}`;
  return told === 'firing'
    ? `${slug}: ${rule.title}: ${v} (${cmp} ${fmt(rule.threshold)} ${rule.unit})`
    : `${slug}: ${rule.title} resolved: ${v} (threshold ${fmt(rule.threshold)} ${rule.unit})`;
}

/** Sums of an app's 10 s samples over a window, from which the traffic rules' values come. */
export interface TrafficSums {
  requests: number;
  r5xx: number;
  /** Sum of p95_ms × requests over buckets that have a p95 (each request timed by the router). */
  weighted_ms: number;
  weighted_requests: number;
  restarts: number;
}

/**
 * The 5xx share of the window's responses: null when there are too few to judge (fewer than
 * MIN_REQUESTS, some of them 5xx, or none at all); a few requests none of which was a 5xx read 0.
 */
export const rate5xx = (s: TrafficSums): number | null =>
  s.requests >= MIN_REQUESTS ? (s.r5xx / s.requests) * 100 : s.requests > 0 && s.r5xx === 0 ? 0 : null;
export const p95ResponseMs = (s: TrafficSums): number | null => (s.weighted_requests > 0 ? s.weighted_ms / s.weighted_requests : null);
