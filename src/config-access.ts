/** Operator settings of access control: login limits (docs/security.md, "Access control"). */
export interface AccessSettings {
  login: {
    /** Failed logins of one username within the window before its logins are refused (429). */
    maxFailuresPerUser: number;
    /** Failed logins from one client address within the window before its logins are refused (429). */
    maxFailuresPerAddress: number;
    windowMs: number;
  };
  /** Audit log entries older than this are removed (BERTH_AUDIT_RETENTION_DAYS). */
  auditRetentionDays: number;
  /** Defaults of every user's quota; an admin overrides them per user (PUT /api/v1/users/{id}/quota). */
  quotas: QuotaLimits;
  /** Cores each replica gets when its app names no CPU limit (BERTH_DEFAULT_CPU; 0: none). */
  defaultCpu: number;
  /** Node labels tenants may name in placement constraints (BERTH_PLACEMENT_LABELS, comma-separated); admins may name any. */
  placementLabels: string[];
  /** Single sign-on with an OpenID Connect provider (BERTH_OIDC_*); null: off. */
  oidc: { issuer: string; clientId: string; clientSecret: string } | null;
}

export interface QuotaLimits {
  projects: number;
  apps_per_project: number;
  replicas: number;
  memory_mb: number;
  cron_min_interval_s: number;
}

function count(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a whole number of at least 1, got "${raw}"`);
  return n;
}

function cores(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || n > 64) throw new Error(`${name} must be a number of cores from 0 to 64, got "${raw}"`);
  return n;
}

function oidc(env: NodeJS.ProcessEnv): AccessSettings['oidc'] {
  const issuer = env.BERTH_OIDC_ISSUER?.trim();
  if (!issuer) return null;
  const clientId = env.BERTH_OIDC_CLIENT_ID?.trim();
  const clientSecret = env.BERTH_OIDC_CLIENT_SECRET;
  if (!clientId || !clientSecret) throw new Error('BERTH_OIDC_ISSUER needs BERTH_OIDC_CLIENT_ID and BERTH_OIDC_CLIENT_SECRET');
  const u = new URL(issuer);
  if (u.protocol !== 'https:' && !['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)) throw new Error('BERTH_OIDC_ISSUER must be an https URL');
  return { issuer, clientId, clientSecret };
}

export function accessSettings(env: NodeJS.ProcessEnv): AccessSettings {
  return {
    login: {
      maxFailuresPerUser: count(env, 'BERTH_LOGIN_MAX_FAILURES_PER_USER', 10),
      maxFailuresPerAddress: count(env, 'BERTH_LOGIN_MAX_FAILURES_PER_ADDRESS', 50),
      windowMs: count(env, 'BERTH_LOGIN_WINDOW_S', 900) * 1000,
    },
    auditRetentionDays: count(env, 'BERTH_AUDIT_RETENTION_DAYS', 365),
    quotas: {
      projects: count(env, 'BERTH_QUOTA_PROJECTS', 20),
      apps_per_project: count(env, 'BERTH_QUOTA_APPS_PER_PROJECT', 50),
      replicas: count(env, 'BERTH_QUOTA_REPLICAS', 20),
      memory_mb: count(env, 'BERTH_QUOTA_MEMORY_MB', 8192),
      cron_min_interval_s: count(env, 'BERTH_QUOTA_CRON_MIN_INTERVAL_S', 60),
    },
    defaultCpu: cores(env, 'BERTH_DEFAULT_CPU', 1),
    placementLabels: (env.BERTH_PLACEMENT_LABELS ?? '')
      .split(',')
      .map((l) => l.trim())
      .filter(Boolean),
    oidc: oidc(env),
  };
}
