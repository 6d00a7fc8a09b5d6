import { createHmac } from 'node:crypto';
import type { BerthEvent } from './events.js';
import type { Db } from '../store/db.js';
import { now } from '../store/db.js';
import { appById } from '../store/apps.js';
import { releaseByVersion } from '../store/releases.js';
import { insertDeliveries, targetsOf, type DeliveryRow } from '../store/notifications.js';
import { attachmentsOf } from '../store/addons.js';
import { newId } from '../lib/ids.js';

/** The events that are told, and how each is named in a message. */
export const NOTIFIED: Record<string, string> = {
  'release.deploying': 'deploy started',
  'release.live': 'deploy live',
  'release.failed': 'deploy failed',
  'build.failed': 'build failed',
  'container.crashed': 'crash',
  'preview.building': 'preview building',
  'preview.deleted': 'preview deleted',
  'addon.backup.verify_failed': 'backup restore check failed',
  'addon.base_backup.verify_failed': 'base backup restore check failed',
  'alert.firing': 'alert firing',
  'alert.resolved': 'alert resolved',
};


/** "rolled back" instead of "deploy live" when the live release is a rollback. */
export function eventTitle(e: BerthEvent, rollback: boolean): string {
  if (e.kind === 'release.live' && rollback) return 'rolled back';
  return NOTIFIED[e.kind] ?? e.kind;
}

export interface NotifyContext {
  app: { id: string; slug: string; url: string };
  title: string;
}

/** Slack's incoming-webhook message format: `text` is the fallback, a section block carries the same in mrkdwn. */
export function slackBody(e: BerthEvent, c: NotifyContext): string {
  const icon = c.title === 'alert firing' ? ':rotating_light:' : c.title === 'alert resolved' ? ':white_check_mark:' : /failed|crash/.test(c.title) ? ':x:' : c.title === 'deploy live' ? ':white_check_mark:' : c.title === 'rolled back' ? ':leftwards_arrow_with_hook:' : ':rocket:';
  const text = `${icon} ${c.app.slug}: ${c.title}: ${e.message}`;
  return JSON.stringify({
    text,
    blocks: [{ type: 'section', text: { type: 'mrkdwn', text: `${icon} *<${c.app.url}|${c.app.slug}>* ${c.title}\n${e.message}` } }],
  });
}

/** The generic webhook's JSON body. */
export function webhookBody(e: BerthEvent, c: NotifyContext): string {
  return JSON.stringify({
    event: { id: e.id, kind: e.kind, title: c.title, message: e.message, data: e.data, created_at: e.created_at },
    app: c.app,
    project_id: e.project_id,
  });
}

/** `X-Berth-Signature: sha256=<hex HMAC-SHA256 of the body with the target's secret>`. */
export const signBody = (secret: string, body: string) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

const LOCAL = new Set(['localhost', '127.0.0.1', '[::1]', '0.0.0.0', '[::]']);

/**
 * Why a notification URL is refused, or null: only http(s), no credentials in it, and never the
 * control plane itself (a loop that could make requests as the server).
 */
export function notifyUrlProblem(raw: string, self: { host: string; port: number }): string | null {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return 'is not a valid URL';
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return `scheme ${u.protocol.slice(0, -1)} is not allowed (use https or http)`;
  if (u.username || u.password) return 'must not contain a user or password';
  const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
  const host = u.hostname.toLowerCase();
  if (u.host.toLowerCase() === self.host.toLowerCase() || (port === self.port && (LOCAL.has(host) || host.startsWith('127.')))) {
    return 'points at this Berth server itself';
  }
  return null;
}

/** scheme://host/… : enough to recognise a target without showing the secret path of a Slack URL. */
export const urlHint = (raw: string) => {
  const u = new URL(raw);
  return `${u.protocol}//${u.host}${u.pathname.length > 1 ? '/…' : '/'}`;
};

/**
 * Events' withEvent hook: a told event's deliveries, one per notification target of the app it is
 * about (an add-on's event: of each app the add-on is attached to), written in the event's own
 * transaction, so a crash can neither lose a message nor tell it twice; the notification controller
 * only sends. Alerts write theirs with their state's transition (controllers/alerts.ts).
 */
export const queueWithEvent = (router: { domain: string; httpPort: number }) => ({
  applies: (kind: string) => kind in NOTIFIED,
  async write(tx: Db, e: BerthEvent): Promise<void> {
    const addon = typeof e.data?.addon === 'string' ? e.data.addon : null;
    const apps = e.app_id ? [e.app_id] : addon ? (await attachmentsOf(tx, addon)).map((t) => t.app_id) : [];
    for (const id of apps) {
      const rows = await deliveriesFor(tx, e, id, router);
      if (rows.length) await insertDeliveries(tx, rows);
    }
  },
});

/**
 * One pending delivery per notification target of the app, each message formatted for its target,
 * read and returned through `db` (the event writer's transaction).
 */
export async function deliveriesFor(db: Db, e: BerthEvent, appId: string, router: { domain: string; httpPort: number }): Promise<DeliveryRow[]> {
  const targets = await targetsOf(db, appId);
  if (!targets.length) return [];
  const app = await appById(db, appId);
  if (!app) return [];
  const version = typeof e.data?.release === 'number' ? e.data.release : null;
  const release = e.kind === 'release.live' && version ? await releaseByVersion(db, app.id, version) : undefined;
  const c = {
    app: { id: app.id, slug: app.slug, url: `http://${app.slug}.${router.domain}${router.httpPort === 80 ? '' : `:${router.httpPort}`}` },
    title: eventTitle(e, !!release?.description.startsWith('Rollback to')),
  };
  const ts = now();
  return targets.map((t) => ({
    id: newId('ntd'),
    target_id: t.id,
    event_kind: e.kind,
    payload: t.kind === 'slack' ? slackBody(e, c) : webhookBody(e, c),
    status: 'pending',
    attempts: 0,
    last_error: null,
    next_attempt_at: ts,
    created_at: ts,
    delivered_at: null,
  }));
}
