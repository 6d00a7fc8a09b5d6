/**
 * Table types for the typed query layer. Both engines store the same shapes: timestamps are ISO-8601
 * text, booleans are 0/1 integers and structured config is JSON text, so one set of queries serves
 * SQLite and PostgreSQL alike.
 */

export interface UsersTable {
  id: string;
  username: string;
  password_hash: string;
  is_admin: number;
  disabled: number;
  created_at: string;
  updated_at: string;
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
  created_at: string;
  updated_at: string;
}

export interface Database {
  users: UsersTable;
  tokens: TokensTable;
  projects: ProjectsTable;
  project_members: MembersTable;
  apps: AppsTable;
}
