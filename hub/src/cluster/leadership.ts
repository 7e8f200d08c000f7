import type { Logger } from '../logger.ts';
import type { Store } from '../store/store.ts';
import { acquireLease, releaseLease } from './leases.ts';

export interface LeadershipOptions {
  /** the lease's name: one holder in the cluster */
  name: string;
  /** how long the lease lasts unrenewed: a dead leader is replaced within this plus one renewal */
  ttlMs: number;
}

/**
 * One node of the cluster does a thing (runs Node-RED, whose flows must not fire once per node):
 * the holder of a named lease (cluster/leases.ts), renewed at a third of its length. A node that
 * cannot renew (it lost the store, or another took the lease after it stalled) stops leading at
 * once; the others try on every renewal tick and take over when the lease has run out.
 * Outside cluster mode the node simply leads.
 */
export class Leadership {
  private timer: NodeJS.Timeout | undefined;
  private leading = false;
  private ticking: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly holder: string,
    private readonly clustered: boolean,
    private readonly options: LeadershipOptions,
    private readonly logger: Logger,
    private readonly lead: () => void,
    private readonly yieldLead: () => Promise<void>,
  ) {}

  get isLeader(): boolean {
    return this.leading;
  }

  private async tick(): Promise<void> {
    let won = false;
    try {
      won = await acquireLease(this.store.db, this.options.name, this.holder, this.options.ttlMs);
    } catch (err) {
      this.logger.warn({ err, lease: this.options.name }, 'lease renewal failed');
    }
    if (won && !this.leading) {
      this.leading = true;
      this.logger.info({ lease: this.options.name }, 'leading');
      this.lead();
    } else if (!won && this.leading) {
      this.leading = false;
      this.logger.warn({ lease: this.options.name }, 'lease lost; stopping');
      await this.yieldLead();
    }
  }

  async start(): Promise<void> {
    if (!this.clustered) {
      this.leading = true;
      this.lead();
      return;
    }
    this.ticking = this.tick();
    await this.ticking;
    this.timer = setInterval(
      () => {
        this.ticking = this.ticking.then(() => this.tick());
      },
      Math.max(100, Math.floor(this.options.ttlMs / 3)),
    );
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.ticking;
    const was = this.leading;
    this.leading = false;
    if (was) await this.yieldLead();
    if (this.clustered && was)
      await releaseLease(this.store.db, this.options.name, this.holder).catch(() => undefined);
  }
}
