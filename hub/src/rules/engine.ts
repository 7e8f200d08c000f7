import type { Bus, RulesWork } from '../bus.ts';
import type { RulesDuties } from '../cluster/rules-duties.ts';
import type { AnyDeviceModel } from '../devices/models/model.ts';
import type { ElevatorMaintenance } from '../elevators/maintenance-visits.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { PolicyService } from '../policies/policy-service.ts';
import type { StorageHealth } from '../store/storage-health.ts';
import type { Store } from '../store/store.ts';
import type { RuleTickets } from '../tickets/ticket-service.ts';
import { fallbackTitle } from './fallback-title.ts';
import { type Lane, LaneQueue } from './lanes.ts';
import type { Rule, RuleAlerts, RuleContext, SiteInfo } from './rule.ts';

/** Where the rules engine catches up on journaled work it had no room for (the ingest journal). */
export interface RulesBacklog {
  /** Journaled messages rules have not finished, after `afterSeq`, oldest first. */
  pending(afterSeq: number, limit: number): Promise<RulesWork[]>;
  /** Make "rules done" marks of settled work durable before pending() is asked again. */
  flushDone(): Promise<void>;
}

export interface RulesEngineDeps {
  rules: readonly Rule[];
  /** the device models: each names the rules it runs (`defaultRules`) */
  models: readonly AnyDeviceModel[];
  bus: Bus;
  /** for site names only; rules get no store (rule.ts RuleContext) */
  store: Store;
  policies: PolicyService;
  tickets: RuleTickets;
  alerts: RuleAlerts;
  presence: { offlineAt(siteId: string): Promise<string[]> };
  visits: { lastVisits(): Promise<ElevatorMaintenance[]> };
  metrics: Metrics;
  logger: Logger;
  backlog?: RulesBacklog;
  /** on a store several nodes share: which node runs an event that reached several, and the ticks */
  cluster?: RulesDuties;
  storage?: StorageHealth;
  options?: RulesEngineOptions;
  now?: () => number;
}

/**
 * The rules each model runs: those its record names in `defaultRules` (DESIGN.md contract 4), for
 * message rules only those that handle its device type. A name no rule has is a mistake in the
 * model record, refused at start.
 */
export function rulesByModel(rules: readonly Rule[], models: readonly AnyDeviceModel[]): Map<string, Rule[]> {
  const byName = new Map(rules.map((r) => [r.name, r]));
  const out = new Map<string, Rule[]>();
  for (const m of models) {
    const list: Rule[] = [];
    for (const name of m.defaultRules) {
      const rule = byName.get(name);
      if (!rule) throw new Error(`device model ${m.id} names rule '${name}', which does not exist`);
      if (
        (rule.on === 'device.event' || rule.on === 'device.telemetry') &&
        !rule.deviceTypes.includes(m.type)
      )
        throw new Error(`device model ${m.id} names rule '${name}', which does not handle ${m.type}`);
      list.push(rule);
    }
    out.set(m.id, list);
  }
  return out;
}

export interface RulesEngineOptions {
  /** ordinary work held in memory; beyond it, work waits in the journal and is read back in order */
  maxOrdinaryBacklog: number;
}

interface Item {
  lane: Lane;
  key: string;
  run(): Promise<void>;
  work?: RulesWork;
}

const CATCH_UP_BATCH = 500;

/**
 * Runs rule records on accepted device messages, presence changes and ticks, in two lanes.
 * Life-safety work (panic, fire, entrapment, flood — DESIGN.md "Guarantees on a bad day") has a lane
 * of its own, served round-robin per device, so neither ordinary traffic nor one device flooding
 * alarms delays another device's alarm. Ordinary work is served in arrival order when the
 * life-safety lane is empty. A device's work stays in one lane while it has life-safety work
 * pending, so its own messages are never reordered. Ordinary work beyond the memory bound is not
 * held: it is already in the journal, and is read back in order when the lane drains, so a flood
 * costs delay, never memory or loss. A rule that throws is logged and the others still run.
 */
export class RulesEngine {
  private readonly unsubscribe: (() => void)[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly queue = new LaneQueue<Item>();
  private running = false;
  private idleWaiters: (() => void)[] = [];
  /** journaled work is being read back from the journal instead of being queued */
  private catchingUp = false;
  private catchUpCursor = 0;
  private catchUpRunning: Promise<void> | undefined;
  private readonly inFlight = new Set<number>();
  private readonly siteCache = new Map<string, SiteInfo>();
  private stopped = true;
  readonly ctx: RuleContext;

  private readonly rules: readonly Rule[];
  private readonly bus: Bus;
  private readonly metrics: Metrics;
  private readonly logger: Logger;
  private readonly backlogSource: RulesBacklog | undefined;
  private readonly storage: StorageHealth | undefined;
  private readonly cluster: RulesDuties | undefined;
  private readonly options: RulesEngineOptions;
  private readonly store: Store;
  /** the rules each model runs on its messages and presence: its record's `defaultRules` */
  private readonly byModel: Map<string, Rule[]>;

  constructor(deps: RulesEngineDeps) {
    this.rules = deps.rules;
    this.bus = deps.bus;
    this.metrics = deps.metrics;
    this.logger = deps.logger;
    this.backlogSource = deps.backlog;
    this.storage = deps.storage;
    this.cluster = deps.cluster;
    this.options = deps.options ?? { maxOrdinaryBacklog: 20_000 };
    this.store = deps.store;
    this.byModel = rulesByModel(deps.rules, deps.models);
    const now = deps.now ?? Date.now;
    this.ctx = {
      now,
      policy: (key, at) => deps.policies.value(key, at),
      tickets: deps.tickets,
      alerts: deps.alerts,
      requestAlert: (request) => this.bus.emit('alert.requested', { ...request, at: now() }),
      site: (siteId) => this.site(siteId),
      offlineAt: (siteId) => deps.presence.offlineAt(siteId),
      elevatorVisits: () => deps.visits.lastVisits(),
      ...(deps.cluster?.offlineWindow ? { offlineWindow: deps.cluster.offlineWindow } : {}),
      logger: deps.logger,
    };
  }

  private async site(siteId: string): Promise<SiteInfo> {
    const hit = this.siteCache.get(siteId);
    if (hit) return hit;
    const row = await this.store.db
      .selectFrom('sites')
      .select(['id', 'name', 'building'])
      .where('id', '=', siteId)
      .executeTakeFirst();
    const info = row ?? { id: siteId, name: siteId, building: null };
    this.siteCache.set(siteId, info);
    return info;
  }

  /** Settles when everything queued so far (and any journaled backlog) has been handled. */
  idle(): Promise<void> {
    if (!this.running && this.queue.size === 0 && !this.catchingUp) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  get backlog(): number {
    return this.queue.size;
  }

  private rulesFor(work: RulesWork): Rule[] {
    const s = work.subject;
    const on = 'event' in s ? 'device.event' : 'device.telemetry';
    return (this.byModel.get(s.modelId) ?? []).filter((r) => r.on === on);
  }

  /** Accept one message's work: queued in its lane, or left in the journal while catching up. */
  private submit(work: RulesWork): void {
    if (this.stopped) return;
    const lane = this.laneOf(work);
    if (lane === 'ordinary' && work.seq !== null) {
      if (!this.catchingUp && this.queue.ordinarySize >= this.options.maxOrdinaryBacklog) {
        // From here on ordinary work is read back from the journal, in order, when there is room.
        this.catchingUp = true;
        this.catchUpCursor = Math.max(0, work.seq - 1);
        this.logger.warn(
          { backlog: this.queue.ordinarySize },
          'rules backlog full; reading it back from the journal',
        );
      }
      if (this.catchingUp) return;
    }
    this.enqueue(lane, work);
  }

  private laneOf(work: RulesWork): Lane {
    return work.lifeSafety || this.queue.hasLifeSafety(work.subject.deviceId) ? 'life-safety' : 'ordinary';
  }

  private enqueue(lane: Lane, work: RulesWork): void {
    const rules = this.rulesFor(work);
    if (work.seq !== null) this.inFlight.add(work.seq);
    this.queue.push({
      lane,
      key: work.subject.deviceId,
      work,
      run: async () => {
        if (this.cluster && !(await this.cluster.admit(work, () => this.enqueue(lane, work)))) {
          if (work.seq !== null) this.inFlight.delete(work.seq);
          return;
        }
        let storageFailed = false;
        for (const rule of rules) {
          try {
            await (rule as Extract<Rule, { on: 'device.event' }>).handle(work.subject as never, this.ctx);
          } catch (err) {
            storageFailed ||= this.failed(rule, err);
          }
        }
        if (work.seq !== null) this.inFlight.delete(work.seq);
        // The disk refused the ticket: the people of the unit are paged all the same, from memory.
        if (storageFailed && work.lifeSafety) await this.alertFromMemory(work.subject);
        this.metrics.rulesLatency.observe({ lane }, (Date.now() - work.subject.receivedAt) / 1000);
        // Work that failed only because the disk refused a write stays "not done" in the journal and
        // is run again once storage recovers; anything else is settled (a retry would fail the same way).
        if (!storageFailed) {
          work.settle();
          await this.cluster?.finished(work);
        }
      },
    });
    this.pump();
  }

  /**
   * A life-safety message whose rule could not write its ticket: ask for the alert anyway (the
   * alert service holds it in memory until the disk takes writes). When the rule runs again after
   * recovery, its own alert request names the same event and finds this alert.
   */
  private async alertFromMemory(m: RulesWork['subject']): Promise<void> {
    const site = await this.ctx.site(m.siteId).catch(() => ({ name: m.siteId }));
    const what = 'event' in m ? m.event.type : 'level' in m.values ? 'level' : 'telemetry';
    const eventRef = 'event' in m ? `${m.deviceId}:${m.event.eventId}` : null;
    this.ctx.requestAlert({
      ...m,
      severity: 'critical',
      cause: `${m.deviceType}:${what}`,
      // the code the rule would have given, so the console renders it like a stored alert's
      ...fallbackTitle(m, site.name, (at) => this.ctx.policy('water.level.warningCm', at)),
      ticketId: null,
      eventRef,
    });
  }

  /** Log a rule failure; true when it was a storage error (worth running again later). */
  private failed(rule: Rule, err: unknown): boolean {
    const storage = this.storage?.failed('store', err);
    this.metrics.errors.inc({ code: storage ?? 'GH_ERR_INTERNAL', source: `rule:${rule.name}` });
    this.logger.error({ err, rule: rule.name, code: storage }, 'rule failed');
    return storage !== undefined;
  }

  private enqueueOther(rule: Rule, key: string, run: () => Promise<void>): void {
    if (this.stopped) return;
    this.queue.push({
      lane: 'ordinary',
      key,
      run: async () => {
        try {
          await run();
        } catch (err) {
          this.failed(rule, err);
        }
      },
    });
    this.pump();
  }

  private pump(): void {
    if (this.running) return;
    this.running = true;
    void this.loop();
  }

  private async loop(): Promise<void> {
    for (;;) {
      const item = this.queue.shift();
      this.metrics.rulesBacklog.set({ lane: 'life-safety' }, this.queue.lifeSafetySize);
      this.metrics.rulesBacklog.set({ lane: 'ordinary' }, this.queue.ordinarySize);
      if (!item) {
        if (this.catchingUp && !this.stopped) {
          await this.catchUp();
          if (this.queue.size > 0) continue;
        }
        break;
      }
      await item.run();
    }
    this.running = false;
    if (this.queue.size === 0 && !this.catchingUp) for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Read the next journaled work back; leaves catch-up mode when the journal has no more. */
  private async catchUp(): Promise<void> {
    const source = this.backlogSource;
    if (!source) {
      this.catchingUp = false;
      return;
    }
    this.catchUpRunning ??= (async () => {
      try {
        await source.flushDone();
        const rows = await source.pending(this.catchUpCursor, CATCH_UP_BATCH);
        for (const work of rows) {
          if (work.seq !== null) this.catchUpCursor = Math.max(this.catchUpCursor, work.seq);
          if (work.seq !== null && this.inFlight.has(work.seq)) continue;
          this.enqueue(this.laneOf(work), work);
        }
        if (rows.length < CATCH_UP_BATCH) this.catchingUp = false;
      } catch (err) {
        // The journal could not be read (its disk failed): try again when the next work arrives.
        this.logger.error({ err }, 'reading the rules backlog from the journal failed');
        this.catchingUp = false;
      }
    })().finally(() => {
      this.catchUpRunning = undefined;
    });
    await this.catchUpRunning;
  }

  /** Run journaled work that is not done (after a restart, or once storage writes work again). */
  replayBacklog(): void {
    if (!this.backlogSource || this.stopped) return;
    if (!this.catchingUp) {
      this.catchingUp = true;
      this.catchUpCursor = 0;
    }
    this.pump();
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.cluster?.start();
    this.unsubscribe.push(this.bus.on('rules.work', (work) => this.submit(work)));
    for (const rule of this.rules) {
      if (rule.on === 'device.presence') {
        this.unsubscribe.push(
          this.bus.on('device.presence', (p) => {
            if (!this.byModel.get(p.modelId)?.includes(rule)) return;
            this.enqueueOther(rule, p.deviceId, () => rule.handle(p, this.ctx));
          }),
        );
      } else if (rule.on === 'tick') {
        const tick = () => {
          // on a shared store, one node runs the timed rules
          if (this.cluster && !this.cluster.ticking) return;
          this.enqueueOther(rule, `tick:${rule.name}`, () => rule.handle(this.ctx));
        };
        tick();
        this.timers.push(setInterval(tick, rule.everyMs(this.ctx)));
      }
    }
    // Grid edits may rename or rebuild sites; names are re-read rather than kept for ever.
    this.timers.push(setInterval(() => this.siteCache.clear(), 60_000));
    this.replayBacklog();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.catchingUp = false;
    for (const off of this.unsubscribe.splice(0)) off();
    for (const t of this.timers.splice(0)) clearInterval(t);
    await this.cluster?.stop();
    for (const rule of this.rules) rule.stop?.();
    // Journaled work still queued is run again at the next start; the rest finishes now.
    for (const item of this.queue.drop((i) => i.work?.seq != null))
      if (item.work?.seq != null) this.inFlight.delete(item.work.seq);
    await this.idle();
  }
}
