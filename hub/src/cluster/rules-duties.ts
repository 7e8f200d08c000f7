import type { RulesWork } from '../bus.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { SharedOfflineWindow } from '../rules/rule.ts';
import type { Store } from '../store/store.ts';
import { EventClaims } from './event-claims.ts';
import { Leadership } from './leadership.ts';

/** A dead node's claim on an event is taken over after this (its rules take milliseconds). */
export const EVENT_CLAIM_LEASE_MS = 10_000;
/** The timed rules (maintenance checks, outage stay-back) move to another node within this. */
export const RULE_TICKS_LEASE_MS = 30_000;

/**
 * What the rules engine must do once among the nodes sharing a PostgreSQL store (issue 19): run
 * an event that reached more than one node on one of them (cluster/event-claims.ts), and run the
 * timed rules on one node, the holder of the `rule-ticks` lease (two nodes checking maintenance
 * at once would both append a repeat to the same ticket).
 */
export class RulesDuties {
  private readonly retries = new Set<NodeJS.Timeout>();
  private readonly claims: EventClaims;
  private readonly ticks: Leadership;
  private stopped = true;

  constructor(
    store: Store,
    holder: string,
    retentionMs: number,
    private readonly metrics: Metrics,
    logger: Logger,
    /** with Redis: the presence rule's outage window across the nodes (cluster/outage-window.ts) */
    readonly offlineWindow?: SharedOfflineWindow,
  ) {
    this.claims = new EventClaims(store, holder, { leaseMs: EVENT_CLAIM_LEASE_MS, retentionMs }, logger);
    const none = async () => {};
    this.ticks = new Leadership(
      store,
      holder,
      true,
      { name: 'rule-ticks', ttlMs: RULE_TICKS_LEASE_MS },
      logger,
      () => {},
      none,
    );
  }

  /** Does this node run the timed rules now? */
  get ticking(): boolean {
    return this.ticks.isLeader;
  }

  /**
   * Does this node run the work? Telemetry: yes. An event done elsewhere: no, settled here. One
   * another live node holds: no, and `again` is called when that claim runs out, so the event is
   * run here if that node died before finishing it (not settled meanwhile: still in the journal).
   */
  async admit(work: RulesWork, again: () => void): Promise<boolean> {
    const s = work.subject;
    if (!('event' in s)) return true;
    const verdict = await this.claims.claim(s.deviceId, s.event.eventId);
    if (verdict.run) return true;
    if ('done' in verdict) {
      this.metrics.rulesClaimed.inc({ outcome: 'elsewhere' });
      work.settle();
      return false;
    }
    this.metrics.rulesClaimed.inc({ outcome: 'waiting' });
    const timer = setTimeout(() => {
      this.retries.delete(timer);
      if (!this.stopped) again();
    }, verdict.retryInMs);
    this.retries.add(timer);
    return false;
  }

  /** The rules of the work finished here. */
  async finished(work: RulesWork): Promise<void> {
    const s = work.subject;
    if ('event' in s) await this.claims.done(s.deviceId, s.event.eventId);
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.claims.start();
    await this.ticks.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.retries) clearTimeout(t);
    this.retries.clear();
    this.claims.stop();
    await this.ticks.stop();
  }
}
