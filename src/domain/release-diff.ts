import type { SecretBox } from '../lib/crypto.js';
import type { ReleaseConfig } from '../store/releases.js';

/** One config var a rollback adds, removes or changes. A secret's values are never part of it. */
export interface EnvChange {
  key: string;
  change: 'added' | 'removed' | 'changed';
  secret: boolean;
  /** Null for a secret (on either side) and for the side where the var is absent. */
  from: string | null;
  to: string | null;
}

/** A setting other than config vars (image, memory, command…) that differs, both sides as text. */
export interface SettingChange {
  setting: string;
  from: string;
  to: string;
}

export interface ReleaseDiff {
  env: EnvChange[];
  settings: SettingChange[];
}

/** A release's or an app's state as far as a rollback replaces it (the scale stays: not here). */
export interface Snapshot {
  image: string | null;
  config: Omit<ReleaseConfig, 'replicas'>;
}

const text = (v: unknown): string => (v === undefined || v === null ? 'none' : typeof v === 'string' ? v : JSON.stringify(v));

/**
 * What going from `now` to `target` changes, for a person to confirm. Secret values are compared
 * opened (sealing is randomized, so sealed texts always differ) and only the fact of a change leaves.
 */
export function releaseDiff(box: SecretBox, now: Snapshot, target: Snapshot): ReleaseDiff {
  const a = now.config.env;
  const b = target.config.env;
  const env: EnvChange[] = [];
  for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
    const x = a[key];
    const y = b[key];
    const secret = x?.s === 1 || y?.s === 1;
    const shown = (v: typeof x) => (v && !secret ? v.v : null);
    if (!x) env.push({ key, change: 'added', secret, from: null, to: shown(y) });
    else if (!y) env.push({ key, change: 'removed', secret, from: shown(x), to: null });
    else {
      const open = (v: NonNullable<typeof x>) => (v.s === 1 ? box.open(v.v) : v.v);
      if (open(x) !== open(y) || x.s !== y.s) env.push({ key, change: 'changed', secret, from: shown(x), to: shown(y) });
    }
  }
  const pairs: [string, unknown, unknown][] = [
    ['image', now.image, target.image],
    ['memory (MB)', now.config.memory_mb, target.config.memory_mb],
    ['cpu', now.config.cpu, target.config.cpu],
    ['port', now.config.port, target.config.port],
    ['strategy', now.config.strategy, target.config.strategy],
    ['health check', now.config.health_check, target.config.health_check],
    ['volumes', now.config.volumes ?? [], target.config.volumes ?? []],
    ['release command', now.config.release_command?.length ? now.config.release_command.join(' ') : null, target.config.release_command?.length ? target.config.release_command.join(' ') : null],
    ['placement', now.config.placement?.constraints?.length ? now.config.placement : null, target.config.placement?.constraints?.length ? target.config.placement : null],
  ];
  const settings = pairs.filter(([, x, y]) => text(x) !== text(y)).map(([setting, x, y]) => ({ setting, from: text(x), to: text(y) }));
  return { env, settings };
}
