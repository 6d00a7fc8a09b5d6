import type { ControllerDeps } from './deps.js';
import { NOTIFIED, signBody } from '../domain/notifications.js';
import { dueDeliveries, nextDue, recordAttempt, type DeliveryRow } from '../store/notifications.js';
import { now } from '../store/db.js';
import { EgressRefused, REFUSED, egressRequest } from '../lib/egress.js';

const MAX_DELAY_MS = 5 * 60_000;

/**
 * Tells an app's notification targets about deploys, failures and crashes. Each message is written
 * as a pending delivery with its event (in one transaction), then sent by this loop, apart from the
 * event's writer: a slow or dead receiver never holds up a deploy. A failed send is retried after retryBaseMs, doubling, up
 * to maxAttempts; pending deliveries are resumed on start.
 */
export class NotificationController {
  private unsubscribe?: () => void;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private pass: Promise<void> | null = null;
  private again = false;

  constructor(private readonly ctx: ControllerDeps) {}

  start(): void {
    // A told event's deliveries were written with it (domain/notifications.ts, queueWithEvent, or
    // the alerts controller): hearing it, here or relayed from another instance, only means "send now".
    this.unsubscribe = this.ctx.events.subscribe((e) => {
      if (NOTIFIED[e.kind]) this.kick();
    });
    this.kick();
  }

  /** Sends under way are not waited for: a claimed delivery is sent again after a restart. */
  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    clearTimeout(this.timer);
  }

  /** Runs a pass now (or right after the one under way). */
  private kick(): void {
    if (this.stopped) return;
    if (this.pass) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.pass = this.sendDue()
      .catch((err) => this.ctx.log.warn({ err }, 'notification pass failed'))
      .finally(async () => {
        this.pass = null;
        if (this.again) {
          this.again = false;
          return this.kick();
        }
        await this.schedule().catch(() => this.schedule(5000));
      });
  }

  private async schedule(fixedMs?: number): Promise<void> {
    if (this.stopped) return;
    let ms = fixedMs;
    if (ms === undefined) {
      const next = await nextDue(this.ctx.db);
      // Nothing due: look again later anyway. Another instance's deliveries are heard of through a
      // relayed event, and a relay can be lost while a listener reconnects (store/pubsub.ts).
      ms = next ? Math.max(0, Date.parse(next.next_attempt_at) - Date.now()) : MAX_DELAY_MS;
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.kick(), Math.min(ms, MAX_DELAY_MS));
  }

  /** Sends every due delivery, each on its own: one hanging receiver does not hold up another. */
  private async sendDue(): Promise<void> {
    const due = await dueDeliveries(this.ctx.db, now(), 100);
    // Claimed by pushing their next attempt past the send timeout: a pass that overlaps skips them.
    const { timeoutMs } = this.ctx.config.notifications;
    await Promise.all(
      due.map(async (d) => {
        await recordAttempt(this.ctx.db, d.id, { next_attempt_at: new Date(Date.now() + timeoutMs + 1000).toISOString() });
        void this.send(d).catch((err) => {
          if (!this.stopped) this.ctx.log.warn({ err, delivery: d.id }, 'notification send failed');
        });
      }),
    );
  }

  private async send(d: DeliveryRow & { kind: string; url_sealed: string; secret_sealed: string | null }): Promise<void> {
    const { retryBaseMs, maxAttempts, timeoutMs } = this.ctx.config.notifications;
    const attempts = d.attempts + 1;
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'Berth-Notifications/1' };
    if (d.kind === 'webhook' && d.secret_sealed) {
      headers['x-berth-event'] = d.event_kind;
      headers['x-berth-delivery'] = d.id;
      headers['x-berth-signature'] = signBody(this.ctx.secrets.open(d.secret_sealed), d.payload);
    }
    let error: string | null = null;
    try {
      const url = this.ctx.secrets.open(d.url_sealed);
      const status = await egressRequest(url, { method: 'POST', headers, body: d.payload, timeoutMs, field: 'url', allow: this.ctx.config.egressAllow });
      if (status < 200 || status >= 300) error = `HTTP ${status}`;
    } catch (err) {
      const e = err as Error & { code?: string };
      // A refused target says only that: never how its address answered (no port scanning through deliveries).
      error = e instanceof EgressRefused ? REFUSED : e.name === 'TimeoutError' ? `no answer in ${timeoutMs} ms` : e.code ?? e.message;
    }
    if (!error) {
      await recordAttempt(this.ctx.db, d.id, { status: 'delivered', attempts, last_error: null, delivered_at: now() });
      return;
    }
    const last = attempts >= maxAttempts;
    const delay = Math.min(MAX_DELAY_MS, retryBaseMs * 2 ** (attempts - 1));
    await recordAttempt(this.ctx.db, d.id, {
      status: last ? 'failed' : 'pending',
      attempts,
      last_error: error,
      next_attempt_at: new Date(Date.now() + (last ? 0 : delay)).toISOString(),
    });
    if (!last) void this.schedule().catch(() => {});
  }
}
