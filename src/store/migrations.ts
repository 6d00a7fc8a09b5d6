import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';

/**
 * Versioned migrations, applied in name order at start. Written with the schema builder only, so
 * each runs unchanged on SQLite and PostgreSQL. Never edit a released migration: add a new one.
 */
const migrations = (engine: 'sqlite' | 'postgres'): Record<string, Migration> => ({
  '0001_foundation': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('users')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('username', 'text', (c) => c.notNull().unique())
        .addColumn('password_hash', 'text', (c) => c.notNull())
        .addColumn('is_admin', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('tokens')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('last_used_at', 'text')
        .addColumn('expires_at', 'text')
        .execute();
      await db.schema.createIndex('tokens_user').on('tokens').column('user_id').execute();
      await db.schema
        .createTable('projects')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('owner_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('projects_owner_name', ['owner_id', 'name'])
        .execute();
      await db.schema
        .createTable('project_members')
        .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('project_members_pk', ['project_id', 'user_id'])
        .execute();
      await db.schema.createIndex('project_members_user').on('project_members').column('user_id').execute();
      await db.schema
        .createTable('apps')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('slug', 'text', (c) => c.notNull().unique())
        .addColumn('image', 'text')
        .addColumn('replicas', 'integer', (c) => c.notNull())
        .addColumn('memory_mb', 'integer', (c) => c.notNull())
        .addColumn('cpu', 'real', (c) => c.notNull())
        .addColumn('port', 'integer', (c) => c.notNull())
        .addColumn('strategy', 'text', (c) => c.notNull())
        .addColumn('health_check', 'text', (c) => c.notNull())
        .addColumn('env', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('apps_project_name', ['project_id', 'name'])
        .execute();
      // Listing apps is ordered by creation; keep it an index scan with 1,000s of apps.
      await db.schema.createIndex('apps_project_created').on('apps').columns(['project_id', 'created_at']).execute();
    },
  },
  '0002_runtime': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('releases')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('app_id', 'text', (c) => c.notNull().references('apps.id').onDelete('cascade'))
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('image', 'text', (c) => c.notNull())
        .addColumn('config', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('reason', 'text')
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('build_id', 'text')
        .addColumn('created_by', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('releases_app_version', ['app_id', 'version'])
        .execute();
      // The release the app should run (target) and the one that last went live.
      await db.schema.alterTable('apps').addColumn('release_id', 'text').execute();
      await db.schema.alterTable('apps').addColumn('live_release_id', 'text').execute();
      await db.schema.alterTable('apps').addColumn('stopped', 'integer', (c) => c.notNull().defaultTo(0)).execute();
      await db.schema.alterTable('apps').addColumn('restart_seq', 'integer', (c) => c.notNull().defaultTo(0)).execute();
      await db.schema.alterTable('apps').addColumn('auto_deploy', 'integer', (c) => c.notNull().defaultTo(1)).execute();
      await db.schema
        .createTable('containers')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('app_id', 'text', (c) => c.notNull())
        .addColumn('release_id', 'text', (c) => c.notNull())
        .addColumn('replica', 'integer', (c) => c.notNull())
        .addColumn('gen', 'integer', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('docker_id', 'text')
        .addColumn('node', 'text', (c) => c.notNull())
        .addColumn('address', 'text')
        .addColumn('port', 'integer', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('in_rotation', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('message', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('containers_app').on('containers').column('app_id').execute();
      await db.schema
        .createTable('events')
        .addColumn('id', engine === 'postgres' ? 'bigserial' : 'integer', (c) =>
          engine === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
        )
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addColumn('app_id', 'text')
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('message', 'text', (c) => c.notNull())
        .addColumn('data', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('events_project').on('events').columns(['project_id', 'id']).execute();
      await db.schema
        .createTable('meta')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '0003_builds': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('builds')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('app_id', 'text', (c) => c.notNull().references('apps.id').onDelete('cascade'))
        .addColumn('number', 'integer', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('repo_url', 'text')
        .addColumn('branch', 'text')
        .addColumn('commit_sha', 'text')
        .addColumn('commit_message', 'text')
        .addColumn('committer', 'text')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('message', 'text')
        .addColumn('builder', 'text')
        .addColumn('dockerfile', 'text')
        .addColumn('image', 'text', (c) => c.notNull())
        .addColumn('release_id', 'text')
        .addColumn('created_by', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('started_at', 'text')
        .addColumn('finished_at', 'text')
        .addUniqueConstraint('builds_app_number', ['app_id', 'number'])
        .execute();
      // The worker picks the oldest queued build; the queue view lists them in that order.
      await db.schema.createIndex('builds_status_created').on('builds').columns(['status', 'created_at']).execute();
      await db.schema
        .createTable('build_logs')
        .addColumn('build_id', 'text', (c) => c.notNull().references('builds.id').onDelete('cascade'))
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('line', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('build_logs_pk', ['build_id', 'seq'])
        .execute();
    },
  },
  '0004_domains': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('domains')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('app_id', 'text', (c) => c.notNull().references('apps.id').onDelete('cascade'))
        .addColumn('hostname', 'text', (c) => c.notNull().unique())
        .addColumn('token', 'text', (c) => c.notNull())
        .addColumn('verified', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('message', 'text')
        .addColumn('checked_at', 'text')
        .addColumn('verified_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('domains_app').on('domains').column('app_id').execute();
    },
  },
  '0005_router': {
    async up(db: Kysely<any>) {
      // How long a replica leaving rotation keeps its in-flight requests, WebSockets and streams.
      await db.schema.alterTable('apps').addColumn('drain_timeout_s', 'integer', (c) => c.notNull().defaultTo(30)).execute();
    },
  },
  '0006_certificates': {
    async up(db: Kysely<any>) {
      // One certificate per routed host; the PEM files live in <dataDir>/tls/certs (the key mode 600).
      await db.schema
        .createTable('certificates')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('hostname', 'text', (c) => c.notNull().unique())
        .addColumn('issuer', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('message', 'text')
        .addColumn('serial', 'text')
        .addColumn('not_after', 'text')
        .addColumn('issued_at', 'text')
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('next_attempt_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '0007_sessions': {
    async up(db: Kysely<any>) {
      // Browser sessions of the dashboard: a cookie, not an API token (they are not listed or usable as one).
      await db.schema
        .createTable('sessions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('csrf_token', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('sessions_user').on('sessions').column('user_id').execute();
    },
  },
  '0009_integrations': {
    async up(db: Kysely<any>) {
      // Git provider accounts: the token is sealed (SecretBox) and never leaves the server.
      await db.schema
        .createTable('vendor_accounts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('owner_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('vendor', 'text', (c) => c.notNull())
        .addColumn('host', 'text', (c) => c.notNull())
        .addColumn('username', 'text', (c) => c.notNull())
        .addColumn('token_sealed', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('vendor_accounts_owner').on('vendor_accounts').column('owner_id').execute();
      // An app's git source and its push webhook secret (sealed: it is shown back to the app's developers).
      await db.schema
        .createTable('app_sources')
        .addColumn('app_id', 'text', (c) => c.primaryKey().references('apps.id').onDelete('cascade'))
        .addColumn('repo_url', 'text', (c) => c.notNull())
        .addColumn('branch', 'text', (c) => c.notNull())
        .addColumn('vendor_id', 'text', (c) => c.references('vendor_accounts.id').onDelete('set null'))
        .addColumn('webhook_secret_sealed', 'text', (c) => c.notNull())
        .addColumn('previews', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('preview_secrets', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      // Preview apps made from pull/merge requests: removed when the request closes.
      await db.schema
        .createTable('preview_apps')
        .addColumn('app_id', 'text', (c) => c.primaryKey().references('apps.id').onDelete('cascade'))
        .addColumn('parent_id', 'text', (c) => c.notNull().references('apps.id').onDelete('cascade'))
        .addColumn('number', 'integer', (c) => c.notNull())
        .addColumn('branch', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('preview_apps_parent_number', ['parent_id', 'number'])
        .execute();
      // Provider delivery ids already acted on: a redelivered push builds once.
      await db.schema
        .createTable('webhook_deliveries')
        .addColumn('app_id', 'text', (c) => c.notNull().references('apps.id').onDelete('cascade'))
        .addColumn('delivery_id', 'text', (c) => c.notNull())
        .addColumn('provider', 'text', (c) => c.notNull())
        .addColumn('build_id', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('webhook_deliveries_pk', ['app_id', 'delivery_id'])
        .execute();
      // Private registry accounts: the password is sealed; pulls of images on that host use it.
      await db.schema
        .createTable('registry_accounts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('owner_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('host', 'text', (c) => c.notNull())
        .addColumn('username', 'text', (c) => c.notNull())
        .addColumn('password_sealed', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('registry_accounts_owner_host', ['owner_id', 'host'])
        .execute();
      // Notification targets of an app (Slack incoming webhooks or signed generic webhooks); URLs and secrets sealed.
      await db.schema
        .createTable('notification_targets')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('app_id', 'text', (c) => c.notNull().references('apps.id').onDelete('cascade'))
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('url_sealed', 'text', (c) => c.notNull())
        .addColumn('url_hint', 'text', (c) => c.notNull())
        .addColumn('secret_sealed', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('notification_targets_app').on('notification_targets').column('app_id').execute();
      // Each message to each target, written before it is sent, so retries survive a restart.
      await db.schema
        .createTable('notification_deliveries')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('target_id', 'text', (c) => c.notNull().references('notification_targets.id').onDelete('cascade'))
        .addColumn('event_kind', 'text', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('last_error', 'text')
        .addColumn('next_attempt_at', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('delivered_at', 'text')
        .execute();
      await db.schema.createIndex('notification_deliveries_due').on('notification_deliveries').columns(['status', 'next_attempt_at']).execute();
      await db.schema.createIndex('notification_deliveries_target').on('notification_deliveries').columns(['target_id', 'created_at']).execute();
      // The account a git build clones with (its id only; the token is read when the clone runs).
      await db.schema.alterTable('builds').addColumn('vendor_id', 'text').execute();
    },
  },
  '0010_cluster': {
    async up(db: Kysely<any>) {
      // Cluster mode (Docker Swarm): one row once an admin asked for it; absent, Berth is single-node.
      await db.schema
        .createTable('cluster')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('advertise_addr', 'text')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('message', 'text')
        .addColumn('swarm_node_id', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      // An admin's change to a node, written before the node controller applies it.
      await db.schema
        .createTable('node_changes')
        .addColumn('node_id', 'text', (c) => c.primaryKey())
        .addColumn('availability', 'text')
        .addColumn('labels', 'text')
        .addColumn('remove', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('force', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('message', 'text')
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '0013_placement': {
    async up(db: Kysely<any>) {
      // Cluster mode: JSON {"constraints": [...]} where an app's replicas may run; null: anywhere.
      await db.schema.alterTable('apps').addColumn('placement', 'text').execute();
    },
  },
  '0014_image_owners': {
    async up(db: Kysely<any>) {
      // Which project may run which image: what it built, pulled, or an admin deployed into it.
      // image_id is the engine's content id (sha256:...), so a second name or the bare id of an
      // image is the same image; null for rows carried over from before, matched by name only.
      await db.schema
        .createTable('image_owners')
        .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
        .addColumn('image', 'text', (c) => c.notNull())
        .addColumn('image_id', 'text')
        .addColumn('app_id', 'text')
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('image_owners_pk', ['project_id', 'image'])
        .execute();
      await db.schema.createIndex('image_owners_id').on('image_owners').columns(['project_id', 'image_id']).execute();
      const ts = new Date().toISOString();
      // Every image an app of the project built. Releases are not carried over: one made before
      // this check may run another project's image, and must not make it the project's.
      const built = await db
        .selectFrom('builds')
        .innerJoin('apps', 'apps.id', 'builds.app_id')
        .select(['apps.project_id as project_id', 'builds.image as image', 'builds.app_id as app_id'])
        .where('builds.status', '=', 'succeeded')
        .execute();
      // Images admins deployed stay usable by the project (a rollback to them, a config change).
      const granted = await db
        .selectFrom('releases')
        .innerJoin('apps', 'apps.id', 'releases.app_id')
        .innerJoin('users', 'users.id', 'releases.created_by')
        .select(['apps.project_id as project_id', 'releases.image as image', 'releases.app_id as app_id'])
        .where('users.is_admin', '=', 1)
        .execute();
      const seen = new Set<string>();
      for (const [rows, source] of [[built, 'build'], [granted, 'admin']] as const) {
        for (const r of rows as { project_id: string; image: string; app_id: string }[]) {
          const key = `${r.project_id} ${r.image}`;
          if (seen.has(key)) continue;
          seen.add(key);
          await db.insertInto('image_owners').values({ project_id: r.project_id, image: r.image, image_id: null, app_id: r.app_id, source, created_at: ts }).execute();
        }
      }
    },
  },
  '0008_stateful': {
    async up(db: Kysely<any>) {
      // Named engine volumes owned by a project; the engine volume is made on first mount.
      await db.schema
        .createTable('volumes')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('size_mb', 'integer')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('volumes_project_name', ['project_id', 'name'])
        .execute();
      // JSON [{volume, path}] and the command run before each release goes live.
      await db.schema.alterTable('apps').addColumn('volumes', 'text', (c) => c.notNull().defaultTo('[]')).execute();
      await db.schema.alterTable('apps').addColumn('release_command', 'text').execute();
      // One-off commands and release commands: the row is written before the container is made.
      await db.schema
        .createTable('runs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('app_id', 'text', (c) => c.notNull().references('apps.id').onDelete('cascade'))
        .addColumn('release_id', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('command', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('exit_code', 'integer')
        .addColumn('output', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('reason', 'text')
        .addColumn('container_name', 'text', (c) => c.notNull())
        .addColumn('timeout_s', 'integer', (c) => c.notNull())
        .addColumn('tty', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_by', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('finished_at', 'text')
        .execute();
      await db.schema.createIndex('runs_app').on('runs').columns(['app_id', 'created_at']).execute();
      // Scheduled one-off commands (Heroku Scheduler); their runs are runs of kind cron.
      await db.schema
        .createTable('cron_jobs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('app_id', 'text', (c) => c.notNull().references('apps.id').onDelete('cascade'))
        .addColumn('schedule', 'text', (c) => c.notNull())
        .addColumn('command', 'text', (c) => c.notNull())
        .addColumn('timeout_s', 'integer', (c) => c.notNull())
        .addColumn('last_fired_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.alterTable('runs').addColumn('cron_id', 'text').execute();
      // The `release:` line of a built app's Procfile: its releases run it unless the app sets release_command.
      await db.schema.alterTable('builds').addColumn('procfile_release', 'text').execute();
      // Managed PostgreSQL and Redis: one hardened container each on the project network, data in an engine volume.
      await db.schema
        .createTable('addons')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('image', 'text', (c) => c.notNull())
        .addColumn('credentials', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('message', 'text')
        .addColumn('backup_schedule', 'text')
        .addColumn('backup_keep', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('addons_project_name', ['project_id', 'name'])
        .execute();
      await db.schema
        .createTable('addon_attachments')
        .addColumn('addon_id', 'text', (c) => c.notNull().references('addons.id').onDelete('cascade'))
        .addColumn('app_id', 'text', (c) => c.notNull().references('apps.id').onDelete('cascade'))
        .addColumn('as_name', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('addon_attachments_pk', ['addon_id', 'app_id'])
        .execute();
      // Backups and restores of an add-on: the row first, then the helper container.
      await db.schema
        .createTable('addon_jobs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('addon_id', 'text', (c) => c.notNull().references('addons.id').onDelete('cascade'))
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('backup_id', 'text')
        .addColumn('trigger', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('size_bytes', 'integer')
        .addColumn('reason', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('finished_at', 'text')
        .execute();
      await db.schema.createIndex('addon_jobs_addon').on('addon_jobs').columns(['addon_id', 'created_at']).execute();
    },
  },
  '0011_volume_backups': {
    async up(db: Kysely<any>) {
      // Backups and restores of add-ons and of volumes in one table: one store, one runner, one
      // schedule. Exactly one of addon_id and volume_id is set; deleting its owner deletes the rows.
      await db.schema
        .createTable('backup_jobs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('addon_id', 'text', (c) => c.references('addons.id').onDelete('cascade'))
        .addColumn('volume_id', 'text', (c) => c.references('volumes.id').onDelete('cascade'))
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('backup_id', 'text')
        .addColumn('trigger', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('size_bytes', 'integer')
        .addColumn('reason', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('finished_at', 'text')
        .execute();
      const cols = ['id', 'addon_id', 'kind', 'backup_id', 'trigger', 'status', 'size_bytes', 'reason', 'created_at', 'finished_at'];
      await db.insertInto('backup_jobs').columns(cols).expression(db.selectFrom('addon_jobs').select(cols)).execute();
      await db.schema.dropTable('addon_jobs').execute();
      await db.schema.createIndex('backup_jobs_addon').on('backup_jobs').columns(['addon_id', 'created_at']).execute();
      await db.schema.createIndex('backup_jobs_volume').on('backup_jobs').columns(['volume_id', 'created_at']).execute();
      await db.schema.createIndex('backup_jobs_status').on('backup_jobs').columns(['status', 'created_at']).execute();
      await db.schema.alterTable('volumes').addColumn('backup_schedule', 'text').execute();
      await db.schema.alterTable('volumes').addColumn('backup_keep', 'integer', (c) => c.notNull().defaultTo(7)).execute();
    },
  },
  '0016_domain_claims': {
    async up(db: Kysely<any>) {
      // How a custom domain was proven: 'dns' (its TXT record) or 'http' (the router answered its host's token).
      // Domains verified before this migration keep null: they were proven by the older, any-host answer.
      await db.schema.alterTable('domains').addColumn('verified_by', 'text').execute();
    },
  },
  '0017_audit': {
    async up(db: Kysely<any>) {
      // Who did what, when, from where. No foreign keys: the record outlives the user, project or app it names.
      await db.schema
        .createTable('audit_log')
        .addColumn('id', engine === 'postgres' ? 'bigserial' : 'integer', (c) => (engine === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text')
        .addColumn('username', 'text')
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('method', 'text', (c) => c.notNull())
        .addColumn('path', 'text', (c) => c.notNull())
        .addColumn('status', 'integer', (c) => c.notNull())
        .addColumn('project_id', 'text')
        .addColumn('address', 'text')
        .addColumn('credential', 'text')
        .execute();
      await db.schema.createIndex('audit_log_at').on('audit_log').column('at').execute();
      await db.schema.createIndex('audit_log_project').on('audit_log').columns(['project_id', 'id']).execute();
    },
  },
  '0017b_quotas': {
    async up(db: Kysely<any>) {
      // An admin's overrides of the quota defaults (BERTH_QUOTA_*), per user; null: the default.
      await db.schema
        .createTable('user_quotas')
        .addColumn('user_id', 'text', (c) => c.primaryKey().references('users.id').onDelete('cascade'))
        .addColumn('projects', 'integer')
        .addColumn('apps_per_project', 'integer')
        .addColumn('replicas', 'integer')
        .addColumn('memory_mb', 'integer')
        .addColumn('cron_min_interval_s', 'integer')
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '0017c_identities': {
    async up(db: Kysely<any>) {
      // Single sign-on: which provider account (issuer + subject) is which user, and users' verified emails.
      await db.schema
        .createTable('user_identities')
        .addColumn('issuer', 'text', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('email', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('user_identities_pk', ['issuer', 'subject'])
        .execute();
      await db.schema.alterTable('users').addColumn('email', 'text').execute();
      await db.schema.createIndex('users_email').on('users').column('email').execute();
    },
  },
  '0019_events_actor': {
    async up(db: Kysely<any>) {
      // Who caused an event: a user (id, and the name then: the event outlives a rename or a deleted
      // user, like the audit log) or Berth's own loop (actor_id null, actor its name). Older rows: both null.
      await db.schema.alterTable('events').addColumn('actor_id', 'text').execute();
      await db.schema.alterTable('events').addColumn('actor', 'text').execute();
    },
  },
  '0021_metrics_history': {
    async up(db: Kysely<any>) {
      // One row per app (replica '') or replica slot, per bucket: 10 s buckets kept an hour, 1 min
      // rollups kept 14 days (docs/performance.md, "Metrics history"). Counts, not rates: a rate is
      // requests over span_s, so buckets add up honestly whatever their gaps.
      let t = db.schema
        .createTable('metric_samples')
        .addColumn('app_id', 'text', (c) => c.notNull().references('apps.id').onDelete('cascade'))
        .addColumn('res', 'integer', (c) => c.notNull())
        .addColumn('t', 'integer', (c) => c.notNull())
        .addColumn('replica', 'text', (c) => c.notNull())
        .addColumn('span_s', 'real', (c) => c.notNull())
        .addColumn('requests', 'integer', (c) => c.notNull())
        .addColumn('r2xx', 'integer', (c) => c.notNull())
        .addColumn('r3xx', 'integer', (c) => c.notNull())
        .addColumn('r4xx', 'integer', (c) => c.notNull())
        .addColumn('r5xx', 'integer', (c) => c.notNull())
        .addColumn('response_ms', 'real')
        .addColumn('sessions', 'real')
        .addColumn('cpu_percent', 'real')
        .addColumn('memory_mb', 'real')
        .addColumn('restarts', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('metric_samples_pk', ['app_id', 'res', 't', 'replica']);
      // The primary key is the only index a chart needs; without a rowid SQLite stores each row once.
      if (engine === 'sqlite') t = t.modifyEnd(sql`without rowid`);
      await t.execute();
      await db.schema.createIndex('metric_samples_prune').on('metric_samples').columns(['res', 't']).execute();
    },
  },
  '0022_pitr': {
    async up(db: Kysely<any>) {
      // Point-in-time recovery of PostgreSQL add-ons (docs/stateful.md): the retention window in days,
      // when the newest base backup finished and where the window starts (null: no base backup yet),
      // for a fork: its source add-on, the time asked for and the recovery point reached; for an
      // in-place restore (a rewind): the time asked for and the point reached.
      await db.schema.alterTable('addons').addColumn('pitr_days', 'integer', (c) => c.notNull().defaultTo(7)).execute();
      for (const col of ['pitr_base_at', 'pitr_earliest', 'fork_of', 'fork_target', 'recovered_to', 'rewind_target', 'rewound_to']) {
        await db.schema.alterTable('addons').addColumn(col, 'text').execute();
      }
    },
  },
  '0023_process_types': {
    async up(db: Kysely<any>) {
      // Heroku's process model: every Procfile line is a process type. A replica says which it runs
      // (web: routed; any other: its own formation, never in rotation); a build keeps its Procfile's
      // other types (JSON {type: command}); an app's replica count per non-web type (web stays apps.replicas).
      await db.schema.alterTable('containers').addColumn('process_type', 'text', (c) => c.notNull().defaultTo('web')).execute();
      await db.schema.alterTable('builds').addColumn('procfile_processes', 'text').execute();
      await db.schema
        .createTable('app_formation')
        .addColumn('app_id', 'text', (c) => c.notNull().references('apps.id').onDelete('cascade'))
        .addColumn('process_type', 'text', (c) => c.notNull())
        .addColumn('replicas', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('app_formation_pk', ['app_id', 'process_type'])
        .execute();
    },
  },
  '0024_control_planes': {
    async up(db: Kysely<any>) {
      // Several control planes on one PostgreSQL (docs/operations.md): each running instance's row,
      // refreshed every ~2 s, and the leases that let exactly one of them run the controllers. Times
      // are the database's own clock in epoch milliseconds, so instances' clocks need not agree.
      // `token` grows by one with every new holder: a write fenced on it fails for a deposed leader.
      // `routes_gen` (leases) counts the leader's route changes; each instance acknowledges in
      // control_planes.routes_gen the generation its own router serves.
      const ms = engine === 'postgres' ? 'double precision' : 'real';
      await db.schema
        .createTable('control_planes')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('address', 'text', (c) => c.notNull())
        .addColumn('started_ms', ms, (c) => c.notNull())
        .addColumn('last_seen_ms', ms, (c) => c.notNull())
        .addColumn('routes_gen', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .createTable('leases')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('holder', 'text', (c) => c.notNull())
        .addColumn('token', 'integer', (c) => c.notNull())
        .addColumn('acquired_ms', ms, (c) => c.notNull())
        .addColumn('expires_ms', ms, (c) => c.notNull())
        .addColumn('routes_gen', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
    },
  },
  '0025_backup_verify': {
    async up(db: Kysely<any>) {
      // Restores verified automatically (docs/stateful.md): the query an add-on's owner sets (null:
      // the default), and per dump backup the verification's state (pending, ok, failed; null: none
      // asked, as for a volume's), its answer, how long it took, why it failed and when it ended.
      await db.schema.alterTable('addons').addColumn('verify_query', 'text').execute();
      // The check of a PostgreSQL add-on's newest base backup (JSON: status, answer, error, duration_ms, at, base_at).
      await db.schema.alterTable('addons').addColumn('pitr_verified', 'text').execute();
      for (const col of ['verify_status', 'verify_answer', 'verify_error', 'verified_at']) {
        await db.schema.alterTable('backup_jobs').addColumn(col, 'text').execute();
      }
      await db.schema.alterTable('backup_jobs').addColumn('verify_ms', 'integer').execute();
    },
  },
  '0026_log_drains': {
    async up(db: Kysely<any>) {
      // Where an app's log lines are sent (syslog over TLS, HTTPS NDJSON): the URL sealed (it may
      // carry a credential), a hint to show, an optional CA to verify the receiver with; and the
      // drain runner's observed delivery status.
      await db.schema
        .createTable('log_drains')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('app_id', 'text', (c) => c.notNull().references('apps.id').onDelete('cascade'))
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('url_sealed', 'text', (c) => c.notNull())
        .addColumn('url_hint', 'text', (c) => c.notNull())
        .addColumn('ca_pem', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('last_success_at', 'text')
        .addColumn('last_error', 'text')
        .addColumn('last_error_at', 'text')
        // 64-bit: a busy app passes 2^31 lines. PostgreSQL's driver gives bigint as text (store/drains.ts decodes).
        .addColumn('sent', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('dropped', 'bigint', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.createIndex('log_drains_app').on('log_drains').column('app_id').execute();
    },
  },
  '0028_log_store': {
    async up(db: Kysely<any>) {
      // Kept app log lines (docs/logs.md): every replica's, written in batches by the leader's log
      // collector, pruned per app by age and size. `time` is the engine's timestamp padded to
      // nanoseconds (domain/drains.ts timeKey), so text order is time order on both engines;
      // `bytes` is the line's UTF-8 length, what the size limit counts. No foreign key on app_id:
      // its check per line cost 40% of PostgreSQL's insert rate (measured, docs/performance.md); the
      // retention pass removes the lines of deleted apps instead.
      await db.schema
        .createTable('log_lines')
        .addColumn('id', engine === 'postgres' ? 'bigserial' : 'integer', (c) => (engine === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('app_id', 'text', (c) => c.notNull())
        .addColumn('time', 'text', (c) => c.notNull())
        .addColumn('stream', 'text', (c) => c.notNull())
        .addColumn('process_type', 'text', (c) => c.notNull())
        .addColumn('replica', 'integer', (c) => c.notNull())
        .addColumn('release', 'integer', (c) => c.notNull())
        .addColumn('container', 'text', (c) => c.notNull())
        .addColumn('line', 'text', (c) => c.notNull())
        .addColumn('bytes', 'integer', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('log_lines_app_time').on('log_lines').columns(['app_id', 'time', 'id']).execute();
      // Per engine container: the newest line stored, so a collector started again (a restart, a new
      // leader) reads each log on from there and neither loses nor repeats lines.
      await db.schema
        .createTable('log_cursors')
        .addColumn('docker_id', 'text', (c) => c.primaryKey())
        // No foreign key either: a batch holding lines of an app deleted meanwhile must still be written.
        .addColumn('app_id', 'text', (c) => c.notNull())
        .addColumn('last', 'text', (c) => c.notNull())
        .execute();
      // An app's own retention, below the platform's (BERTH_LOG_RETENTION_*); null: the platform's.
      await db.schema.alterTable('apps').addColumn('log_retention_days', 'integer').execute();
      await db.schema.alterTable('apps').addColumn('log_retention_mb', 'integer').execute();
    },
  },
  '0029_alerts': {
    async up(db: Kysely<any>) {
      // Alerts (docs/operations.md, "Alerts"): an app's choices per rule (no row: the rule's
      // defaults), and each rule's state as the evaluator left it (ok, pending, firing; since when;
      // clear since when; the last value), so a restart neither fires again nor forgets.
      await db.schema
        .createTable('alert_rules')
        .addColumn('app_id', 'text', (c) => c.notNull().references('apps.id').onDelete('cascade'))
        .addColumn('rule', 'text', (c) => c.notNull())
        .addColumn('enabled', 'integer', (c) => c.notNull())
        .addColumn('threshold', 'double precision')
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('alert_rules_pk', ['app_id', 'rule'])
        .execute();
      await db.schema
        .createTable('alert_states')
        .addColumn('app_id', 'text', (c) => c.notNull().references('apps.id').onDelete('cascade'))
        .addColumn('rule', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('since', 'text', (c) => c.notNull())
        .addColumn('clear_since', 'text')
        .addColumn('value', 'double precision')
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('alert_states_pk', ['app_id', 'rule'])
        .execute();
    },
  },
  '0031_latency_percentiles': {
    async up(db: Kysely<any>) {
      // Response-time percentiles per bucket, from each request's time in HAProxy's timing ring
      // (router/haproxy/timing.ts); null when the bucket saw no request. A 1-minute rollup keeps the
      // highest of its 10 s values (percentiles do not average).
      for (const col of ['p50_ms', 'p95_ms', 'p99_ms']) await db.schema.alterTable('metric_samples').addColumn(col, 'real').execute();
    },
  },
  '0032_write_generation': {
    async up(db: Kysely<any>) {
      // PostgreSQL only: a count of committed writes for the API's read cache, exact across every
      // instance on the database (store/write-counter.ts). A transaction that writes bumps one row,
      // of 32, its backend's (so writers on different connections never wait for each other's row),
      // once, at commit (a deferred trigger): a reader that sums the rows after a
      // commit completed sees it moved; a rolled-back transaction moves nothing and changed nothing.
      // The triggers are put on the tables at each start (ensureWriteCounting), so later tables count too.
      if (engine !== 'postgres') return;
      await sql`create table write_generation (shard integer primary key, n bigint not null default 0)`.execute(db);
      await sql`insert into write_generation (shard) select generate_series(0, 31)`.execute(db);
      await sql`create function berth_write_bump() returns trigger language plpgsql as $$
        begin
          if coalesce(current_setting('berth.write_bumped', true), '') <> '1' then
            update write_generation set n = n + 1 where shard = pg_backend_pid() % 32;
            perform set_config('berth.write_bumped', '1', true);
          end if;
          return null;
        end $$`.execute(db);
    },
  },
  '0035_alert_notices': {
    async up(db: Kysely<any>) {
      // A count of writes to each alert state: a write (a transition and its event, or a moved
      // value) takes effect only on the version it read and bumps it, so an overlapping writer that
      // read the state before (a deposed leader, a firing -> resolved -> firing it did not see) writes
      // nothing and tells nothing (controllers/alerts.ts).
      await db.schema.alterTable('alert_states').addColumn('version', 'integer', (c) => c.notNull().defaultTo(0)).execute();
    },
  },
  '0036_backup_size_wide': {
    async up(db: Kysely<any>) {
      // A backup of 2 GiB or more overflowed PostgreSQL's 32-bit integer: the job failed to record
      // its size. double precision holds every byte count up to 8 PiB exactly and reads back as a
      // JS number (bigint would read back as a string), as the lease times do. SQLite's integer is
      // 64-bit already.
      if (engine !== 'postgres') return;
      await sql`alter table backup_jobs alter column size_bytes type double precision`.execute(db);
    },
  },
  '0037_build_runtime': {
    async up(db: Kysely<any>) {
      // What `berth builds info` says the build ran on: the line chosen and why (it was in the log only).
      await db.schema.alterTable('builds').addColumn('runtime', 'text').execute();
    },
  },
});

export const migrationProvider = (engine: 'sqlite' | 'postgres'): MigrationProvider => ({
  async getMigrations() {
    return migrations(engine);
  },
});
