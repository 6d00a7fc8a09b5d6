import { type TSchema, Type as T } from '@sinclair/typebox';

/**
 * Resource shapes shared by the routes. Request bodies are closed objects (unknown fields are a 400),
 * and every string has a bound, so the schema itself is the first line of defence.
 */

export const DnsLabel = T.String({
  pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$',
  minLength: 1,
  maxLength: 63,
  description: 'a DNS label: lowercase letters, digits and hyphens, at most 63, not starting or ending with a hyphen',
});
export const Id = T.String({ minLength: 1, maxLength: 128, description: 'an id, or a name (projects) or slug (apps)' });
export const Timestamp = T.String({ format: 'date-time' });
/**
 * A version, sequence number or cursor: bounded by the 32-bit integer columns that hold them, so an
 * oversized value is the same 400 naming the field on SQLite and PostgreSQL alike.
 */
export const Counter = (opts: { minimum: number; description?: string }) => T.Integer({ maximum: 2_147_483_647, ...opts });
export const Username = T.String({
  pattern: '^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$',
  description: 'letters, digits, dot, underscore and hyphen, at most 64',
});
export const Password = T.String({ minLength: 8, maxLength: 256, description: 'at least 8 characters' });
export const Role = T.Union([T.Literal('owner'), T.Literal('developer'), T.Literal('viewer')]);
export const Strategy = T.Union([T.Literal('rolling'), T.Literal('blue-green'), T.Literal('recreate')]);

export const ErrorBody = T.Object({
  error: T.Object({
    code: T.String(),
    message: T.String(),
    details: T.Optional(
      T.Object(
        {
          field: T.Optional(T.String({ description: 'The request field at fault, as the caller wrote it (health_check.path)' })),
          location: T.Optional(T.String({ description: 'body, querystring or params' })),
        },
        { additionalProperties: true },
      ),
    ),
  }),
});

export const Ok = T.Object({ ok: T.Boolean() });

export const Page = T.Object(
  {
    limit: T.Optional(T.Integer({ minimum: 1, maximum: 500, default: 100 })),
    offset: T.Optional(T.Integer({ minimum: 0, maximum: 1_000_000_000, default: 0 })),
  },
  { additionalProperties: false },
);

export const paged = <S extends TSchema>(item: S) =>
  T.Object({ items: T.Array(item), total: T.Integer(), limit: T.Integer(), offset: T.Integer() });

export const User = T.Object({
  id: T.String(),
  username: T.String(),
  is_admin: T.Boolean(),
  disabled: T.Boolean(),
  created_at: Timestamp,
});

export const Token = T.Object({
  id: T.String(),
  name: T.String(),
  created_at: Timestamp,
  last_used_at: T.Union([Timestamp, T.Null()]),
  expires_at: T.Union([Timestamp, T.Null()]),
});

export const Project = T.Object({
  id: T.String(),
  name: T.String(),
  owner: T.Object({ id: T.String(), username: T.String() }),
  /** The caller's role in this project. */
  role: Role,
  apps: T.Integer(),
  created_at: Timestamp,
  updated_at: Timestamp,
});

export const Member = T.Object({
  user_id: T.String(),
  username: T.String(),
  role: Role,
  created_at: Timestamp,
});

export const EnvKey = T.String({
  pattern: '^[A-Za-z_][A-Za-z0-9_]{0,127}$',
  description: 'letters, digits and underscores, not starting with a digit',
});
export const EnvValue = T.String({ maxLength: 32768 });

export const HealthCheck = T.Object(
  {
    // The router sends it in its health checks: no spaces, quotes, ';', '#' or '\\' (see router/haproxy/validate.ts).
    path: T.String({ pattern: "^/[A-Za-z0-9._~!$&()*+,=:@%/?-]{0,255}$", description: 'an absolute URL path' }),
    timeout_s: T.Integer({ minimum: 1, maximum: 600, description: 'how long a new replica has to become healthy' }),
    grace_s: T.Integer({ minimum: 0, maximum: 600, description: 'wait before the first check' }),
  },
  { additionalProperties: false },
);

/**
 * Where an app's replicas may run in cluster mode: Swarm constraints on a node's id, hostname,
 * role, platform or labels (`node.labels.tier==web`, `node.role!=manager`). Ignored on one node.
 */
export const Placement = T.Object(
  {
    constraints: T.Array(
      T.String({
        maxLength: 256,
        pattern: '^(node\\.(id|hostname|role|platform\\.os|platform\\.arch)|(node|engine)\\.labels\\.[A-Za-z0-9][A-Za-z0-9._-]{0,99}) ?(==|!=) ?[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$',
        description: 'e.g. node.labels.tier==web',
      }),
      { maxItems: 16 },
    ),
  },
  { additionalProperties: false },
);

export const AppConfigFields = {
  image: T.Union([T.String({ minLength: 1, maxLength: 512, pattern: '^[^\\s]+$' }), T.Null()]),
  replicas: T.Integer({ minimum: 0, maximum: 100 }),
  memory: T.Integer({ minimum: 16, maximum: 65536, description: 'MB' }),
  cpu: T.Number({ minimum: 0, maximum: 64, description: 'cores; 0 = no limit' }),
  port: T.Integer({ minimum: 1, maximum: 65535 }),
  strategy: Strategy,
  health_check: HealthCheck,
  drain_timeout_s: T.Integer({
    minimum: 0,
    maximum: 3600,
    description: 'seconds a replica leaving rotation keeps its in-flight requests, WebSockets and streams',
  }),
  placement: Placement,
};

/** A project volume mounted into an app (validated further by the handler: absolute, not a system path, no repeats). */
export const Mount = T.Object(
  {
    volume: T.String({ minLength: 1, maxLength: 128, description: 'a volume of the app’s project, by name or id' }),
    path: T.String({ minLength: 1, maxLength: 255, pattern: '^[^\\s:]+$', description: 'absolute path in the container' }),
  },
  { additionalProperties: false },
);
export const Mounts = T.Array(Mount, { maxItems: 16 });
export const Command = T.Array(T.String({ minLength: 1, maxLength: 4096 }), { minItems: 1, maxItems: 128, description: 'argv: the program, then its arguments (no shell)' });

export const App = T.Object({
  id: T.String(),
  name: T.String(),
  slug: T.String(),
  project: T.Object({ id: T.String(), name: T.String() }),
  url: T.String(),
  ...AppConfigFields,
  /** Config vars; secret values are masked. */
  env: T.Record(T.String(), T.String()),
  secret_env: T.Array(T.String()),
  /** idle (never deployed), deploying, running, stopped or crashed. */
  status: T.String(),
  /** Version of the live release. */
  release: T.Union([T.Integer(), T.Null()]),
  auto_deploy: T.Boolean(),
  volumes: T.Array(T.Object({ volume: T.String(), path: T.String() })),
  pinned: T.Union(
    [T.Object({ node: T.String({ description: 'hostname' }), constraint: T.String({ description: 'the placement constraint Berth adds to its replicas' }), reason: T.String() }), T.Null()],
    { description: 'cluster mode, an app with volumes: the node its replicas run on (where its volumes live); null otherwise' },
  ),
  /** argv run once per release before traffic moves; [] when none. */
  release_command: T.Array(T.String()),
  log_retention: T.Object(
    {
      days: T.Integer(),
      mb: T.Integer(),
      own: T.Boolean({ description: 'the app has limits of its own (else the platform’s)' }),
    },
    { description: 'how much of the app’s log is kept (docs/logs.md): lines older than days, and past mb of lines the oldest, go' },
  ),
  created_at: Timestamp,
  updated_at: Timestamp,
});

const F = AppConfigFields;
/** An app's git source: the repository and branch its webhook builds, and the account it clones with. */
export const AppSourceInput = T.Object(
  {
    repo_url: T.String({ minLength: 1, maxLength: 2048 }),
    branch: T.Optional(T.String({ minLength: 1, maxLength: 255 })),
    vendor: T.Optional(T.Union([T.String({ minLength: 1, maxLength: 128 }), T.Null()], { description: 'a vendor account id, or null for a public repository' })),
    previews: T.Optional(T.Boolean()),
    preview_secrets: T.Optional(T.Boolean()),
  },
  { additionalProperties: false },
);

export const AppUpdate = T.Object(
  {
    name: T.Optional(DnsLabel),
    source: T.Optional(T.Union([AppSourceInput, T.Null()], { description: 'the git source (as PUT /apps/{id}/source); null forgets it' })),
    image: T.Optional(F.image),
    replicas: T.Optional(F.replicas),
    memory: T.Optional(F.memory),
    cpu: T.Optional(F.cpu),
    port: T.Optional(F.port),
    strategy: T.Optional(F.strategy),
    health_check: T.Optional(F.health_check),
    drain_timeout_s: T.Optional(F.drain_timeout_s),
    log_retention_days: T.Optional(
      T.Union([T.Integer({ minimum: 1, maximum: 3650 }), T.Null()], { description: 'days of log kept, at most the platform’s (BERTH_LOG_RETENTION_DAYS); null: the platform’s' }),
    ),
    log_retention_mb: T.Optional(
      T.Union([T.Integer({ minimum: 1, maximum: 1_000_000 }), T.Null()], { description: 'MB of log lines kept, at most the platform’s (BERTH_LOG_RETENTION_MB); null: the platform’s' }),
    ),
    placement: T.Optional(T.Union([F.placement, T.Null()], { description: 'cluster mode: where replicas may run (with the next release); null: anywhere' })),
    env: T.Optional(
      T.Record(EnvKey, T.Union([EnvValue, T.Null()]), {
        description: 'merged into the config vars; null unsets a var',
        additionalProperties: false,
      }),
    ),
    secret_env: T.Optional(T.Array(EnvKey, { maxItems: 256, description: 'keys whose values are secret' })),
    auto_deploy: T.Optional(T.Boolean({ description: 'deploy each successful build automatically' })),
    volumes: T.Optional(Mounts),
    release_command: T.Optional(
      T.Array(T.String({ minLength: 1, maxLength: 4096 }), { maxItems: 128, description: 'argv run once per release before traffic moves (no shell); [] removes it' }),
    ),
  },
  { additionalProperties: false },
);
