import type { Store } from '../store/store.ts';
import type { WebhookTargetRow } from '../store/tables.ts';
import type { AlertMessage } from './webhook-formats.ts';

/** Whose delivery log a webhook's attempts go to. */
export type DeliveryOrigin =
  | { kind: 'alert'; alertId: string; step: number }
  | { kind: 'notification'; id: string };

/** One pending delivery as a node works on it. */
export interface OutboxJob {
  id: string;
  targetId: string;
  message: AlertMessage;
  origin: DeliveryOrigin;
  /** attempts made before this one */
  attempts: number;
}

/**
 * The SQL of the webhook outbox (migration 0011): a delivery is a row from the moment it is
 * queued until it is delivered or given up, so a node that dies with deliveries pending leaves
 * them to the others. A node works on a row only while it holds the row's lease; claiming is one
 * UPDATE whose WHERE re-checks the lease, so two nodes polling at once never both take a row
 * (PostgreSQL re-evaluates the WHERE on the row a concurrent update changed; SQLite has one writer).
 */
export class WebhookOutbox {
  constructor(
    private readonly store: Store,
    private readonly holder: string,
  ) {}

  private get db() {
    return this.store.db;
  }

  /** Queue a delivery, leased to this node for its first attempt. */
  async add(job: OutboxJob, now: number, leaseMs: number): Promise<void> {
    await this.db
      .insertInto('webhook_outbox')
      .values({
        id: job.id,
        target_id: job.targetId,
        message: JSON.stringify(job.message),
        origin: JSON.stringify(job.origin),
        attempts: 0,
        state: 'pending',
        due_at: now,
        holder: this.holder,
        lease_until: now + leaseMs,
        created_at: now,
      })
      .execute();
  }

  /** Take up to `limit` due deliveries whose lease is free or ran out (a dead node's). */
  async claimDue(now: number, leaseMs: number, limit: number): Promise<OutboxJob[]> {
    const rows = await this.db
      .updateTable('webhook_outbox')
      .set({ holder: this.holder, lease_until: now + leaseMs })
      .where('id', 'in', (eb) =>
        eb
          .selectFrom('webhook_outbox')
          .select('id')
          .where('state', '=', 'pending')
          .where('due_at', '<=', now)
          .where((e) => e.or([e('lease_until', 'is', null), e('lease_until', '<', now)]))
          .orderBy('due_at')
          .limit(limit),
      )
      .where('state', '=', 'pending')
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
      .returningAll()
      .execute();
    return rows.map((r) => ({
      id: r.id,
      targetId: r.target_id,
      message: JSON.parse(r.message) as AlertMessage,
      origin: JSON.parse(r.origin) as DeliveryOrigin,
      attempts: r.attempts,
    }));
  }

  /** The attempt failed and may be retried: due again at `dueAt`, by whichever node claims it. */
  async retryAt(id: string, attempts: number, dueAt: number): Promise<void> {
    await this.db
      .updateTable('webhook_outbox')
      .set({ attempts, due_at: dueAt, holder: null, lease_until: null })
      .where('id', '=', id)
      .where('holder', '=', this.holder)
      .execute();
  }

  /** Delivered or given up: the row leaves the outbox. */
  async finish(id: string): Promise<void> {
    await this.db
      .deleteFrom('webhook_outbox')
      .where('id', '=', id)
      .where('holder', '=', this.holder)
      .execute();
  }

  target(id: string): Promise<WebhookTargetRow | undefined> {
    return this.db.selectFrom('webhook_targets').selectAll().where('id', '=', id).executeTakeFirst();
  }
}
