import type { Generated } from 'kysely';
import type {
  AppSourcesTable,
  NotificationDeliveriesTable,
  NotificationTargetsTable,
  LogDrainsTable,
  PreviewAppsTable,
  RegistryAccountsTable,
  VendorAccountsTable,
  WebhookDeliveriesTable,
} from './schema-integrations.js';
import type { AuditTable, UserIdentitiesTable, UserQuotasTable } from './schema-audit.js';
import type { ClusterTable, NodeChangesTable } from './cluster-schema.js';

/**
 * Table types for the typed query layer. Both engines store the same shapes: timestamps are ISO-8601
 * text, booleans are 0/1 integers and structured config is JSON text, so one set of queries serves
 * SQLite and PostgreSQL alike. The JSON text never leaves the store: each table's functions decode
 * it (app-columns.ts for apps) and return typed rows.
 */

export interface UsersTable {
  id: string;
  username: string;
  password_hash: string;
  is_admin: number;
  disabled: number;
  created_at: string;
  updated_at: string;
  /** A verified email, from single sign-on (migration 0017c_identities). */
  email?: string | null;
}

export interface TokensTable {
  id: string;
  user_id: string;
  name: string;
  /** sha256 of the token; the token itself is shown once and never stored. */
  token_hash: string;
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
}

export interface ProjectsTable {
  id: string;
  name: string;
  owner_id: string;
  created_at: string;
  updated_at: string;
}

export interface MembersTable {
  project_id: string;
  user_id: string;
  role: 'owner' | 'developer' | 'viewer';
  created_at: string;
}

export interface AppsTable {
  id: string;
  project_id: string;
  name: string;
  slug: string;
  image: string | null;
  replicas: number;
  memory_mb: number;
  cpu: number;
  port: number;
  strategy: 'rolling' | 'blue-green' | 'recreate';
  /** JSON: {path, timeout_s, grace_s}. */
  health_check: string;
  /** JSON: {KEY: {value, secret}}; secret values are encrypted. */
  env: string;
  /** The release the app should run; null until the first deploy. */
  release_id: string | null;
  /** The release that last went live (what serves when a rollout fails). */
  live_release_id: string | null;
  /** 1 after `stop`: no replicas, the URL answers 503. */
  stopped: number;
  /** Bumped by `restart`: replicas of an older generation are replaced one by one. */
  restart_seq: number;
  /** Deploy each successful build automatically. */
  auto_deploy: number;
  /** Seconds a replica leaving rotation keeps its requests and streams before the router cuts them (default 30). */
  drain_timeout_s?: number;
  /** JSON [{volume, path}]: project volumes mounted by name (with the next release). */
  volumes: Generated<string>;
  /** JSON string array run once per release before traffic moves; null: none. */
  release_command: string | null;
  /** JSON {"constraints": [...]}: Swarm placement of the replicas in cluster mode (with the next release); null: anywhere. */
  placement?: string | null;
  /** Days and MB of log lines kept for this app, at most the platform's; null: the platform's (migration 0028_log_store). */
  log_retention_days?: number | null;
  log_retention_mb?: number | null;
  created_at: string;
  updated_at: string;
}

export interface VolumesTable {
  id: string;
  project_id: string;
  name: string;
  /** Recorded, not enforced: the engine's local driver has no quota on ext4 (docs/stateful.md). */
  size_mb: number | null;
  /** Cron expression of automatic backups; null: none. */
  backup_schedule: string | null;
  /** Successful backups kept; older ones are pruned after each new one. */
  backup_keep: number;
  created_at: string;
}

export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed';

export interface RunsTable {
  id: string;
  app_id: string;
  release_id: string;
  /** 'run' (one-off), 'release' (a release command) or 'cron' (a scheduled command). */
  kind: 'run' | 'release' | 'cron';
  /** The scheduled command it ran for (kind cron). */
  cron_id: string | null;
  /** JSON string array. */
  command: string;
  status: RunStatus;
  exit_code: number | null;
  /** The last of the output (bounded). */
  output: string;
  reason: string | null;
  container_name: string;
  /** Killed (SIGTERM, then SIGKILL) after this long. */
  timeout_s: number;
  /** 1: interactive, on a pseudo-terminal reached through /ws/runs/{id}/tty (its output is not kept). */
  tty: number;
  created_by: string | null;
  created_at: string;
  finished_at: string | null;
}

export type ReleaseStatus = 'pending' | 'deploying' | 'live' | 'failed' | 'rolled-back' | 'superseded';

export interface ReleasesTable {
  id: string;
  app_id: string;
  version: number;
  image: string;
  /** JSON snapshot of ReleaseConfig: everything needed to run it again, exactly. */
  config: string;
  status: ReleaseStatus;
  reason: string | null;
  description: string;
  build_id: string | null;
  created_by: string | null;
  created_at: string;
  updated_at: string;
}

/** `running`: a replica of a process type without an HTTP check (a worker) that is up. */
export type ContainerStatus = 'starting' | 'healthy' | 'running' | 'unhealthy' | 'crashed' | 'draining' | 'stopped';

export interface ContainersTable {
  /** Berth's id (ctr_...); docker_id is the engine's. */
  id: string;
  app_id: string;
  release_id: string;
  replica: number;
  gen: number;
  name: string;
  docker_id: string | null;
  node: string;
  address: string | null;
  port: number;
  status: ContainerStatus;
  /** 1 while the router sends it traffic. */
  in_rotation: number;
  message: string | null;
  /** The Procfile process type it runs: `web` (routed) or another (`worker`, ...: never in rotation). */
  process_type: string;
  created_at: string;
  updated_at: string;
}

/** An app's replica count for one non-web process type (web's is apps.replicas); a type without a row runs 1. */
export interface AppFormationTable {
  app_id: string;
  process_type: string;
  replicas: number;
}

export interface EventsTable {
  id: Generated<number>;
  project_id: string;
  app_id: string | null;
  kind: string;
  message: string;
  data: string | null;
  created_at: string;
  /** Who caused it (migration 0019_events_actor): the user's id; null for Berth's own loops and older rows. */
  actor_id: string | null;
  /** The user's name when it happened, or the loop's name (actor_id null); null on older rows. */
  actor: string | null;
}

export type BuildStatus = 'pending' | 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled';
export type BuildSource = 'git' | 'archive' | 'push' | 'image';

export interface BuildsTable {
  id: string;
  app_id: string;
  /** 1, 2, 3... per app; also the image tag. */
  number: number;
  source: BuildSource;
  repo_url: string | null;
  branch: string | null;
  commit_sha: string | null;
  commit_message: string | null;
  committer: string | null;
  /** pending: waiting for its source archive to be uploaded. */
  status: BuildStatus;
  message: string | null;
  /** dockerfile, node, python, go, ruby, php or java, once detected. */
  builder: string | null;
  /** The Dockerfile that was built (generated, or the source's own). */
  dockerfile: string | null;
  /** The language line chosen and why (and the package manager that installs), once detected; null: a Dockerfile build (0037_build_runtime). */
  runtime: string | null;
  /** berth/<app id>:<number> (berth/<slug>:<number> before 0014) */
  image: string;
  release_id: string | null;
  created_by: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  /** The vendor account a git build clones with. */
  vendor_id: string | null;
  /** The Procfile's `release:` line, as written (run with sh -c). */
  procfile_release: string | null;
  /** JSON {type: command}: the Procfile's process types other than web and release (0023_process_types); null: none or older builds. */
  procfile_processes?: string | null;
}

export interface BuildLogsTable {
  build_id: string;
  seq: number;
  line: string;
  created_at: string;
}

export interface Database {
  users: UsersTable;
  tokens: TokensTable;
  projects: ProjectsTable;
  project_members: MembersTable;
  apps: AppsTable;
  releases: ReleasesTable;
  containers: ContainersTable;
  app_formation: AppFormationTable;
  events: EventsTable;
  meta: { key: string; value: string };
  builds: BuildsTable;
  build_logs: BuildLogsTable;
  domains: DomainsTable;
  sessions: SessionsTable;
  certificates: CertificatesTable;
  vendor_accounts: VendorAccountsTable;
  app_sources: AppSourcesTable;
  webhook_deliveries: WebhookDeliveriesTable;
  registry_accounts: RegistryAccountsTable;
  notification_targets: NotificationTargetsTable;
  notification_deliveries: NotificationDeliveriesTable;
  preview_apps: PreviewAppsTable;
  cluster: ClusterTable;
  node_changes: NodeChangesTable;
  volumes: VolumesTable;
  addons: AddonsTable;
  addon_attachments: AddonAttachmentsTable;
  backup_jobs: BackupJobsTable;
  runs: RunsTable;
  cron_jobs: CronJobsTable;
  audit_log: AuditTable;
  user_quotas: UserQuotasTable;
  user_identities: UserIdentitiesTable;
  image_owners: ImageOwnersTable;
  metric_samples: MetricSamplesTable;
  log_drains: LogDrainsTable;
  log_lines: LogLinesTable;
  log_cursors: LogCursorsTable;
  control_planes: ControlPlanesTable;
  leases: LeasesTable;
  alert_rules: AlertRulesTable;
  alert_states: AlertStatesTable;
}

/** A running control plane (migration 0024_control_planes); times in the database's epoch ms. */
export interface ControlPlanesTable {
  id: string;
  /** Where its API answers (BERTH_ADVERTISE_URL, or host:port it listens on). */
  address: string;
  started_ms: number;
  last_seen_ms: number;
  /** The leader's route generation this instance's router serves. */
  routes_gen: number;
}

/** A lease only one control plane holds at a time; token grows with every new holder (fencing). */
export interface LeasesTable {
  name: string;
  holder: string;
  token: number;
  acquired_ms: number;
  expires_ms: number;
  routes_gen: number;
}

export interface DomainsTable {
  id: string;
  app_id: string;
  hostname: string;
  /**
   * Unique to this claim: the value of the TXT record _berth-challenge.<hostname>, or answered by the
   * router at /.well-known/berth-verify/<token> for this hostname only.
   */
  token: string;
  verified: number;
  /** How it was proven: 'dns' or 'http'; null while unverified (and for domains verified before 0016). */
  verified_by: 'dns' | 'http' | null;
  /** Why the last check failed. */
  message: string | null;
  checked_at: string | null;
  verified_at: string | null;
  created_at: string;
}

export type CertificateStatus = 'pending' | 'issued' | 'failed';

export interface CertificatesTable {
  /** 'cert-' + a hash of the hostname: the router's and the files' name for it. */
  name: string;
  hostname: string;
  issuer: 'berth-ca' | 'acme';
  /** pending: wanted, not issued yet; issued: served (renewals keep it issued); failed: no valid certificate. */
  status: CertificateStatus;
  /** Why the last issuance or renewal failed. */
  message: string | null;
  serial: string | null;
  not_after: string | null;
  issued_at: string | null;
  /** Failed attempts since the last success; drives the retry backoff. */
  attempts: number;
  next_attempt_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface SessionsTable {
  id: string;
  user_id: string;
  token_hash: string;
  csrf_token: string;
  created_at: string;
  expires_at: string;
}

export type AddonType = 'postgres' | 'redis';

export interface AddonsTable {
  id: string;
  project_id: string;
  name: string;
  type: AddonType;
  image: string;
  /** Sealed JSON {user, password, database}. */
  credentials: string;
  /** creating until it first answers; running; failed with a message. */
  status: 'creating' | 'running' | 'failed';
  message: string | null;
  /** Cron expression of automatic backups; null: none. */
  backup_schedule: string | null;
  /** Successful backups kept; older ones are pruned after each new one. */
  backup_keep: number;
  /** PostgreSQL: days of point-in-time recovery kept (base backups and archived WAL). */
  pitr_days: number;
  /** When the newest base backup (pgBackRest) finished; null: none yet. */
  pitr_base_at: string | null;
  /** The earliest time a fork can be restored to (the oldest kept base backup's end); null: no base backup yet. */
  pitr_earliest: string | null;
  /** A fork: the add-on whose archive it was restored from (null: not a fork). */
  fork_of: string | null;
  /** A fork: the time it is restored to. */
  fork_target: string | null;
  /** A fork: the recovery point reached (the last transaction replayed), once restored. */
  recovered_to: string | null;
  /** An in-place restore asked for: the time its data goes back to (the server is held until it is done). */
  rewind_target: string | null;
  /** The recovery point the last in-place restore reached; null while one is under way (or none was asked). */
  rewound_to: string | null;
  /** The query a verification of its backups runs on the restored copy (read-only, one statement); null: the default. */
  verify_query: string | null;
  /** JSON BaseBackupCheck (store/addons.ts): the restore check of its newest base backup; null: none yet. */
  pitr_verified: string | null;
  created_at: string;
  updated_at: string;
}

export interface AddonAttachmentsTable {
  addon_id: string;
  app_id: string;
  /** Config var prefix: DATABASE gives DATABASE_URL. */
  as_name: string;
  created_at: string;
}

/** A backup or restore of an add-on or of a volume: exactly one of addon_id and volume_id is set. */
export interface BackupJobsTable {
  id: string;
  addon_id: string | null;
  volume_id: string | null;
  kind: 'backup' | 'restore';
  /** For a restore: the backup it restores. */
  backup_id: string | null;
  trigger: 'manual' | 'schedule';
  status: 'queued' | 'running' | 'succeeded' | 'failed';
  size_bytes: number | null;
  reason: string | null;
  created_at: string;
  finished_at: string | null;
  /** An add-on backup's restore check: pending (queued or under way), ok or failed; null: none (a volume's, a restore). */
  verify_status: 'pending' | 'ok' | 'failed' | null;
  /** What the check's query (or Redis's DBSIZE) answered. */
  verify_answer: string | null;
  /** Why the check failed, in words. */
  verify_error: string | null;
  /** How long the last check took, restore and query. */
  verify_ms: number | null;
  verified_at: string | null;
}

export interface CronJobsTable {
  id: string;
  app_id: string;
  /** Cron, UTC: 5 fields, or 6 with seconds first. */
  schedule: string;
  /** JSON string array. */
  command: string;
  timeout_s: number;
  /** The last firing acted on (run, skipped or reported missed); null: none yet. */
  last_fired_at: string | null;
  created_at: string;
}

/** An image a project may run (migration 0014_image_owners). */
export interface ImageOwnersTable {
  project_id: string;
  /** The reference it was built, pulled or deployed by. */
  image: string;
  /** The engine's content id; null on rows carried over from before 0014 (matched by name). */
  image_id: string | null;
  app_id: string | null;
  source: 'build' | 'pull' | 'admin';
  created_at: string;
}

/**
 * One bucket of an app's metrics (replica '') or of one replica slot (its index), at a resolution
 * `res` of 10 or 60 s; `t` is the bucket's start in Unix seconds. Traffic is counted, not rated:
 * `requests` over `span_s` (the seconds the counts cover) is the rate.
 */
export interface MetricSamplesTable {
  app_id: string;
  res: number;
  t: number;
  replica: string;
  span_s: number;
  requests: number;
  r2xx: number;
  r3xx: number;
  r4xx: number;
  r5xx: number;
  /** HAProxy's average response time (last 1,024 requests) when the bucket saw requests. */
  response_ms: number | null;
  /** Response-time percentiles of the bucket's requests (migration 0031); a rollup keeps the highest of its buckets'. */
  p50_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
  /** Open connections (HAProxy's current sessions), averaged. */
  sessions: number | null;
  cpu_percent: number | null;
  memory_mb: number | null;
  restarts: number;
}

/** An app's choice for one alert rule (migration 0029_alerts); no row: the rule's defaults. */
export interface AlertRulesTable {
  app_id: string;
  rule: string;
  enabled: number;
  /** Null: the rule's default threshold. */
  threshold: number | null;
  updated_at: string;
}

/** One app's alert rule as the evaluator left it (controllers/alerts.ts). */
export interface AlertStatesTable {
  app_id: string;
  rule: string;
  status: 'ok' | 'pending' | 'firing';
  since: string;
  clear_since: string | null;
  value: number | null;
  updated_at: string;
  /** Writes so far (migration 0035_alert_notices): each write is conditioned on the version it read. */
  version: number;
}

/** One kept app log line (migration 0028_log_store). */
export interface LogLinesTable {
  id: Generated<number>;
  app_id: string;
  /** The engine's time, padded to nanoseconds (timeKey): sorts as text. */
  time: string;
  /** stdout, stderr, or berth (a line the collector adds: lines it had to drop). */
  stream: string;
  process_type: string;
  replica: number;
  /** The release version the replica ran. */
  release: number;
  /** The container's name. */
  container: string;
  line: string;
  /** UTF-8 length of line: what the per-app size limit counts. */
  bytes: number;
}

/** The newest stored line's time per engine container (migration 0028_log_store). */
export interface LogCursorsTable {
  docker_id: string;
  app_id: string;
  last: string;
}
