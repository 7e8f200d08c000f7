import { appendAudit } from '../audit/audit-log.ts';
import type { AlertRow } from '../store/tables.ts';
import { type AlertContext, alertAt, perSeverity, storageFailed } from './alert-context.ts';
import type { AlertStore } from './alert-store.ts';
import type { AlertDelivery } from './delivery.ts';

/**
 * Re-notification and escalation as stored due times (DESIGN.md contract 7): on every tick the
 * raised alerts whose step or re-notification is due move on, the due times in the same
 * transaction that decides the step, so a restart never repeats a step and a step that fell due
 * while the hub was down happens at start. Alerts held in memory move on the same way.
 */
export class AlertEscalation {
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> = Promise.resolve();
  /** set by the service once delivery exists (they call each other: a skipped person escalates now) */
  delivery: AlertDelivery | undefined;

  constructor(
    private readonly ctx: AlertContext,
    private readonly alerts: AlertStore,
  ) {}

  private get db() {
    return this.alerts.db;
  }

  private notify(row: AlertRow, recipients: string[], withWebhooks: boolean): Promise<void> {
    return this.delivery?.notify(row, recipients, withWebhooks) ?? Promise.resolve();
  }

  async tick(): Promise<void> {
    const now = this.ctx.now();
    for (const id of await this.alerts.dueIds(now)) {
      if (this.ctx.volatile.get(id)) continue;
      try {
        await this.advance(id, now);
      } catch (err) {
        if (!storageFailed(this.ctx, err)) {
          this.ctx.logger.error({ err, alertId: id }, 'alert escalation failed');
          continue;
        }
        // The disk refuses the step: take the alert into memory and escalate it from there.
        const row = await this.alerts.byId(id);
        if (row) this.ctx.volatile.add(row, null);
      }
    }
    for (const row of this.ctx.volatile.all()) await this.advanceHeld(row, now);
  }

  /** The escalation step of a held alert, decided in memory exactly as advance() does on disk. */
  private async advanceHeld(r: AlertRow, now: number): Promise<void> {
    if (r.state !== 'raised') return;
    const step = this.nextStep(r, now);
    if (!step) return;
    const row = this.ctx.volatile.update(r.id, step.update) as AlertRow;
    if (!step.kind) return;
    this.ctx.feed.changed(row, step.kind);
    await this.notify(row, step.recipients, step.kind === 'escalated');
  }

  /** The step an alert takes now, if any: escalate to the next person, or re-notify (both stored due times). */
  private nextStep(r: AlertRow, now: number) {
    const chain = JSON.parse(r.chain) as string[];
    const at = alertAt(r);
    const policies = this.ctx.policies;
    if (r.next_step_at != null && r.next_step_at <= now && r.step < chain.length - 1) {
      const step = r.step + 1;
      const update = {
        step,
        next_step_at:
          step < chain.length - 1
            ? now + perSeverity(policies, 'alert.stepDelaySeconds', r.severity, at)
            : null,
        next_renotify_at: now + perSeverity(policies, 'alert.renotifySeconds', r.severity, at),
        updated_at: now,
      };
      return { update, kind: 'escalated' as const, recipients: [chain[step] as string], to: chain[step] };
    }
    if (r.next_renotify_at != null && r.next_renotify_at <= now) {
      const count = r.renotify_count + 1;
      const more = count < policies.value('alert.maxRenotify', at);
      const update = {
        renotify_count: count,
        next_renotify_at: more ? now + perSeverity(policies, 'alert.renotifySeconds', r.severity, at) : null,
        updated_at: now,
      };
      return { update, kind: 'renotified' as const, recipients: chain.slice(0, r.step + 1), to: undefined };
    }
    if (r.next_step_at != null && r.next_step_at <= now)
      return { update: { next_step_at: null }, kind: undefined, recipients: [], to: undefined };
    return undefined;
  }

  private async advance(id: string, now: number): Promise<void> {
    const outcome = await this.db.transaction().execute(async (trx) => {
      const r = await this.alerts.byId(id, trx);
      if (r?.state !== 'raised') return undefined;
      const step = this.nextStep(r, now);
      if (!step) return undefined;
      await trx.updateTable('alerts').set(step.update).where('id', '=', id).execute();
      if (step.kind === 'escalated')
        await appendAudit(trx, {
          actor: 'system',
          action: 'alert.escalate',
          entityType: 'alert',
          entityId: id,
          data: { step: r.step + 1, to: step.to },
        });
      return step.kind
        ? { row: { ...r, ...step.update }, kind: step.kind, recipients: step.recipients }
        : undefined;
    });
    if (!outcome) return;
    this.ctx.feed.changed(outcome.row, outcome.kind);
    await this.notify(outcome.row, outcome.recipients, outcome.kind === 'escalated');
  }

  /** Look at due times now (after a tick interval, or when a person turned out to be unreachable). */
  schedule(): void {
    this.ticking = this.ticking
      .then(() => this.tick())
      .catch((err: unknown) => this.ctx.logger.error({ err }, 'alert tick failed'));
  }

  async start(): Promise<void> {
    this.schedule();
    await this.ticking;
    this.timer = setInterval(() => this.schedule(), this.ctx.options.tickMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.ticking;
  }
}
