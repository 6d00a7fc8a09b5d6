import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Store, Db } from '../store/db.js';
import type { SecretBox } from '../lib/crypto.js';

/** What route handlers get to work with. Handlers write desired state; controllers act on it. */
export interface ApiContext {
  config: Config;
  store: Store;
  db: Db;
  secrets: SecretBox;
  log: Logger;
  /** Tells the controllers that desired state changed, so they reconcile now rather than on their next tick. */
  nudge(reason: string): void;
}

export interface AuthUser {
  id: string;
  username: string;
  is_admin: boolean;
}
