import { Type as T } from '@sinclair/typebox';
import * as S from './schemas.js';
import { IdParam, closed, type RouteDef } from './route-def.js';

/** Alert rules per app and their state (src/controllers/alerts.ts, docs/operations.md "Alerts"). */
const Nullable = <X extends Parameters<typeof T.Union>[0][number]>(s: X) => T.Union([s, T.Null()]);

// The rule ids, as in src/domain/alerts.ts (the contract imports nothing of the server).
const RULES = ['http_5xx_rate', 'response_time_p95', 'restarts', 'memory', 'volume_full', 'certificate_expiry', 'backup_failed'] as const;
const RuleId = T.Union(RULES.map((r) => T.Literal(r)));

const Status = T.Union([T.Literal('ok'), T.Literal('pending'), T.Literal('firing'), T.Literal('off')], {
  description: 'off: turned off for this app; pending: breached, not yet for long enough to fire',
});

export const AlertRule = T.Object({
  rule: RuleId,
  title: T.String(),
  description: T.String(),
  unit: T.String(),
  fires: T.Union([T.Literal('above'), T.Literal('below')], { description: 'fires when the value is above (or below) the threshold' }),
  enabled: T.Boolean(),
  threshold: T.Number(),
  default_threshold: T.Number(),
  window_s: T.Number({ description: 'the history the value is measured over (0: the newest reading)' }),
  for_s: T.Number({ description: 'how long a breach must last before the rule fires' }),
  clear_s: T.Number({ description: 'how long a firing rule must stay clear before it resolves' }),
  status: Status,
  since: Nullable(S.Timestamp),
  value: Nullable(T.Number()),
});

const RuleChange = closed({
  enabled: T.Optional(T.Boolean()),
  threshold: T.Optional(Nullable(T.Number({ description: "null: back to the rule's default" }))),
});

export const FiringAlert = T.Object({
  app: T.Object({ id: T.String(), slug: T.String(), name: T.String() }),
  rule: RuleId,
  title: T.String(),
  unit: T.String(),
  threshold: T.Number(),
  since: S.Timestamp,
  value: Nullable(T.Number()),
});

export const alertRoutes = {
  listAlerts: {
    method: 'GET',
    path: '/api/v1/apps/:id/alerts',
    summary: "An app's alert rules (defaults and this app's changes) with each one's state: ok, pending, firing or off, since when, and the last value",
    tag: 'alerts',
    access: 'viewer',
    params: IdParam,
    response: T.Object({ items: T.Array(AlertRule) }),
  },
  updateAlerts: {
    method: 'PUT',
    path: '/api/v1/apps/:id/alerts',
    summary: 'Turn rules on or off and change their thresholds for this app; rules and fields not named keep their settings',
    tag: 'alerts',
    access: 'developer',
    params: IdParam,
    body: closed({
      rules: closed({
        http_5xx_rate: T.Optional(RuleChange),
        response_time_p95: T.Optional(RuleChange),
        restarts: T.Optional(RuleChange),
        memory: T.Optional(RuleChange),
        volume_full: T.Optional(RuleChange),
        certificate_expiry: T.Optional(RuleChange),
        backup_failed: T.Optional(RuleChange),
      }),
    }),
    response: T.Object({ items: T.Array(AlertRule) }),
  },
  listProjectAlerts: {
    method: 'GET',
    path: '/api/v1/projects/:id/alerts',
    summary: "The firing alerts of a project's apps, oldest first",
    tag: 'alerts',
    access: 'viewer',
    params: IdParam,
    response: T.Object({ items: T.Array(FiringAlert) }),
  },
} as const satisfies Record<string, RouteDef>;
