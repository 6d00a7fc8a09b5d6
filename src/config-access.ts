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
}

function count(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a whole number of at least 1, got "${raw}"`);
  return n;
}

export function accessSettings(env: NodeJS.ProcessEnv): AccessSettings {
  return {
    login: {
      maxFailuresPerUser: count(env, 'BERTH_LOGIN_MAX_FAILURES_PER_USER', 10),
      maxFailuresPerAddress: count(env, 'BERTH_LOGIN_MAX_FAILURES_PER_ADDRESS', 50),
      windowMs: count(env, 'BERTH_LOGIN_WINDOW_S', 900) * 1000,
    },
    auditRetentionDays: count(env, 'BERTH_AUDIT_RETENTION_DAYS', 365),
  };
}
