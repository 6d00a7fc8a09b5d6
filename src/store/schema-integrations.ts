/** Tables of the integrations (migration 0009_integrations): vendor accounts, app sources, webhook deliveries. */

export type VendorKind = 'github' | 'gitlab' | 'bitbucket';

export interface VendorAccountsTable {
  id: string;
  owner_id: string;
  vendor: VendorKind;
  /** host[:port] the token is sent to, and only to it. */
  host: string;
  username: string;
  /** SecretBox-sealed token or app password. */
  token_sealed: string;
  created_at: string;
}

export interface AppSourcesTable {
  app_id: string;
  repo_url: string;
  branch: string;
  vendor_id: string | null;
  webhook_secret_sealed: string;
  /** 1: pull/merge requests build preview apps. */
  previews: number;
  /** 1: preview apps get the parent's secret config vars too. */
  preview_secrets: number;
  updated_at: string;
}

export interface PreviewAppsTable {
  app_id: string;
  parent_id: string;
  number: number;
  branch: string;
  created_at: string;
}

export interface WebhookDeliveriesTable {
  app_id: string;
  delivery_id: string;
  provider: string;
  build_id: string | null;
  created_at: string;
}

export interface RegistryAccountsTable {
  id: string;
  owner_id: string;
  /** host[:port] as it appears in image references. */
  host: string;
  username: string;
  password_sealed: string;
  created_at: string;
}

export interface NotificationTargetsTable {
  id: string;
  app_id: string;
  kind: 'slack' | 'webhook';
  /** Sealed: a Slack webhook URL is itself a credential. */
  url_sealed: string;
  /** scheme://host/… shown in lists. */
  url_hint: string;
  /** Sealed HMAC secret of a generic webhook. */
  secret_sealed: string | null;
  created_at: string;
}

export interface NotificationDeliveriesTable {
  id: string;
  target_id: string;
  event_kind: string;
  /** The exact JSON body sent (and signed). */
  payload: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  last_error: string | null;
  next_attempt_at: string;
  created_at: string;
  delivered_at: string | null;
}

/** A log drain of an app (migration 0026_log_drains): desired state, and the runner's delivery status. */
export interface LogDrainsTable {
  id: string;
  app_id: string;
  kind: 'syslog' | 'https';
  /** Sealed: the URL may carry a user and password or a token. */
  url_sealed: string;
  /** scheme://host:port, with /… when a path, query or user was hidden. */
  url_hint: string;
  /** PEM certificates the receiver's certificate must chain to, instead of the system's roots. */
  ca_pem: string | null;
  created_at: string;
  last_success_at: string | null;
  /** Why the last attempt failed, in words; cleared by nothing (last_error_at says when). */
  last_error: string | null;
  last_error_at: string | null;
  /**
   * Lines delivered, and lines dropped because the drain's buffer was full. bigint columns: read
   * them through store/drains.ts, which turns PostgreSQL's text into numbers.
   */
  sent: number;
  dropped: number;
}
