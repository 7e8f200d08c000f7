import type { Logger } from '../logger.ts';
import type { Store } from '../store/store.ts';

/** What the rules do with an event: run it, leave it (another node did it), or ask again later. */
export type ClaimVerdict = { run: true } | { run: false; done: true } | { run: false; retryInMs: number };

export interface EventClaimOptions {
  /** how long a claim holds while its node works on it; a dead node's claim is taken after this */
  leaseMs: number;
  /** claims older than this are deleted (the devices' redelivery window is far shorter) */
  retentionMs: number;
}

/**
 * Cluster-wide dedupe of device events at processing time (issue 19). The node-local journal
 * still dedupes what one node received (its PUBACK is a promise kept on its own disk); this row in
 * the shared store decides which node runs the rules of an event that reached two of them — a
 * QoS 1 resend to a survivor, a restarted node replaying its journal. A claim is a lease, not a
 * mark: a node that dies after claiming loses nothing, another node takes the event over once
 * `leaseMs` has passed; `done_at` is set when the rules finished, after which nobody runs it again.
 */
export class EventClaims {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: Store,
    private readonly holder: string,
    private readonly options: EventClaimOptions,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  async claim(deviceId: string, eventId: string): Promise<ClaimVerdict> {
    const now = this.now();
    const until = now + this.options.leaseMs;
    try {
      const won = await this.store.db
        .insertInto('event_claims')
        .values({
          device_id: deviceId,
          event_id: eventId,
          holder: this.holder,
          lease_until: until,
          claimed_at: now,
          done_at: null,
        })
        .onConflict((oc) =>
          oc
            .columns(['device_id', 'event_id'])
            .doUpdateSet({ holder: this.holder, lease_until: until })
            .where((eb) =>
              eb.and([
                eb('event_claims.done_at', 'is', null),
                eb.or([
                  eb('event_claims.holder', '=', this.holder),
                  eb('event_claims.lease_until', '<', now),
                ]),
              ]),
            ),
        )
        .returning('holder')
        .executeTakeFirst();
      if (won?.holder === this.holder) return { run: true };
      const row = await this.store.db
        .selectFrom('event_claims')
        .select(['done_at', 'lease_until'])
        .where('device_id', '=', deviceId)
        .where('event_id', '=', eventId)
        .executeTakeFirst();
      if (!row) return { run: false, retryInMs: 0 }; // pruned meanwhile: ask again
      if (row.done_at !== null) return { run: false, done: true };
      return { run: false, retryInMs: Math.max(0, row.lease_until - now) + 50 };
    } catch (err) {
      // The store cannot say: run the rules (a missed alarm is worse than a doubled one, and the
      // tickets and alerts of an event are found by the event and not raised twice).
      this.logger.warn({ err, deviceId, eventId }, 'event claim failed; running the rules');
      return { run: true };
    }
  }

  /** The rules of the event finished here: no node runs them again. */
  async done(deviceId: string, eventId: string): Promise<void> {
    await this.store.db
      .updateTable('event_claims')
      .set({ done_at: this.now() })
      .where('device_id', '=', deviceId)
      .where('event_id', '=', eventId)
      .where('holder', '=', this.holder)
      .execute()
      .catch((err: unknown) => this.logger.warn({ err, deviceId, eventId }, 'event claim not marked done'));
  }

  private async prune(): Promise<void> {
    await this.store.db
      .deleteFrom('event_claims')
      .where('claimed_at', '<', this.now() - this.options.retentionMs)
      .execute();
  }

  start(): void {
    this.timer = setInterval(
      () => this.prune().catch((err: unknown) => this.logger.warn({ err }, 'event claim prune failed')),
      60_000,
    );
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
