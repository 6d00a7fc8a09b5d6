import type { ControllerDeps } from './deps.js';
import { checkDomain } from '../domain/custom-domains.js';
import { recordCheck, unverifiedDomains } from '../store/domains.js';

/** Checks unverified custom domains now and then, so one whose DNS changes later gets routed without a click. */
export class DomainController {
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly ctx: ControllerDeps,
    private readonly intervalMs = 60_000,
  ) {}

  start(): void {
    const tick = async () => {
      if (this.stopped) return;
      await this.checkAll().catch((err) => this.ctx.log.warn({ err }, 'domain checks failed'));
      if (!this.stopped) this.timer = setTimeout(tick, this.intervalMs);
    };
    this.timer = setTimeout(tick, this.intervalMs);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  async checkAll(): Promise<void> {
    let any = false;
    for (const d of await unverifiedDomains(this.ctx.db)) {
      const c = this.ctx.config;
      const res = await checkDomain(d, { routerHttpPort: c.routerHttpPort, methods: c.domainVerify, resolver: c.dnsResolver });
      await recordCheck(this.ctx.db, d.id, res.by, res.message);
      any ||= res.by !== null;
    }
    if (any) await this.ctx.routes.sync();
  }
}
