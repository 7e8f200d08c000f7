import type { Bus } from '../bus.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { PolicyService } from '../policies/policy-service.ts';
import type { Store } from '../store/store.ts';
import type { TicketService } from '../tickets/ticket-service.ts';
import type { Rule, RuleContext, SiteInfo } from './rule.ts';

/**
 * Runs rule records against the bus. Work is done one item at a time, in arrival order, so the
 * rules of one incident never race each other; a rule that throws is logged and the others still run.
 */
export class RulesEngine {
  private readonly unsubscribe: (() => void)[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private queue: Promise<void> = Promise.resolve();
  private pending = 0;
  private readonly siteCache = new Map<string, SiteInfo>();
  readonly ctx: RuleContext;

  constructor(
    private readonly rules: readonly Rule[],
    private readonly bus: Bus,
    store: Store,
    policies: PolicyService,
    tickets: TicketService,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    now: () => number = Date.now,
  ) {
    this.ctx = {
      now,
      policy: (key, at) => policies.value(key, at),
      tickets,
      requestAlert: (request) => this.bus.emit('alert.requested', { ...request, at: now() }),
      site: (siteId) => this.site(store, siteId),
      store,
      logger,
    };
  }

  private async site(store: Store, siteId: string): Promise<SiteInfo> {
    const hit = this.siteCache.get(siteId);
    if (hit) return hit;
    const row = await store.db
      .selectFrom('sites')
      .select(['id', 'name', 'building'])
      .where('id', '=', siteId)
      .executeTakeFirst();
    const info = row ?? { id: siteId, name: siteId, building: null };
    this.siteCache.set(siteId, info);
    return info;
  }

  /** Settles when everything queued so far has been handled (tests, and stop()). */
  idle(): Promise<void> {
    return this.queue;
  }

  get backlog(): number {
    return this.pending;
  }

  private enqueue(rule: Rule, run: () => Promise<void>): void {
    this.pending++;
    this.queue = this.queue
      .then(run)
      .catch((err: unknown) => {
        this.metrics.errors.inc({ code: 'GH_ERR_INTERNAL', source: `rule:${rule.name}` });
        this.logger.error({ err, rule: rule.name }, 'rule failed');
      })
      .finally(() => {
        this.pending--;
      });
  }

  async start(): Promise<void> {
    for (const rule of this.rules) {
      switch (rule.on) {
        case 'device.event':
          this.unsubscribe.push(
            this.bus.on('device.event', (e) => {
              if (rule.deviceTypes.includes(e.deviceType)) this.enqueue(rule, () => rule.handle(e, this.ctx));
            }),
          );
          break;
        case 'device.telemetry':
          this.unsubscribe.push(
            this.bus.on('device.telemetry', (t) => {
              if (rule.deviceTypes.includes(t.deviceType)) this.enqueue(rule, () => rule.handle(t, this.ctx));
            }),
          );
          break;
        case 'device.presence':
          this.unsubscribe.push(
            this.bus.on('device.presence', (p) => this.enqueue(rule, () => rule.handle(p, this.ctx))),
          );
          break;
        case 'tick': {
          const tick = () => this.enqueue(rule, () => rule.handle(this.ctx));
          tick();
          this.timers.push(setInterval(tick, rule.everyMs(this.ctx)));
          break;
        }
      }
    }
    // Grid edits may rename or rebuild sites; names are re-read rather than kept for ever.
    this.timers.push(setInterval(() => this.siteCache.clear(), 60_000));
  }

  async stop(): Promise<void> {
    for (const off of this.unsubscribe.splice(0)) off();
    for (const t of this.timers.splice(0)) clearInterval(t);
    for (const rule of this.rules) rule.stop?.();
    await this.queue;
  }
}
