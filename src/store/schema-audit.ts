import type { Generated } from 'kysely';

/** One state-changing API call or login attempt (migration 0017_audit). Never a body: no secrets. */
export interface AuditTable {
  id: Generated<number>;
  at: string;
  /** Null for an anonymous call (a failed login, a webhook delivery). */
  user_id: string | null;
  /** The caller's name, or the name a login attempt gave. */
  username: string | null;
  /** The contract route's name (deleteApp, login, ...), or METHOD path pattern for a raw route. */
  action: string;
  method: string;
  /** The request's path, without its query string. */
  path: string;
  status: number;
  /** The project the call acted in, when known: its owners read the entry. */
  project_id: string | null;
  address: string | null;
  /** How the caller proved itself: token or session (never the value). */
  credential: string | null;
}

/** Per-user overrides of the quota defaults (migration 0017b_quotas); null: the default. */
export interface UserQuotasTable {
  user_id: string;
  projects: number | null;
  apps_per_project: number | null;
  replicas: number | null;
  memory_mb: number | null;
  cron_min_interval_s: number | null;
  updated_at: string;
}

/** A provider account signed in through single sign-on (migration 0017c_identities). */
export interface UserIdentitiesTable {
  issuer: string;
  subject: string;
  user_id: string;
  email: string | null;
  created_at: string;
}
