import { appendAudit } from '../audit/audit-log.ts';
import { actorOf, type Principal, requirePermission } from '../auth/principal.ts';
import type { AlertChangeAction } from '../contract/staff-messages.ts';
import { parseTopic } from '../contract/topics.ts';
import { GridhubError, isGridhubError } from '../errors.ts';
import type { AlertRow } from '../store/tables.ts';
import { type AlertContext, storageFailed } from './alert-context.ts';
import { nameAlerts } from './alert-names.ts';
import type { AlertQueries } from './alert-queries.ts';
import type { AlertView } from './alert-schemas.ts';
import type { AlertStore } from './alert-store.ts';
import { alertView } from './alert-view.ts';

/**
 * What people (and devices' restores) do to an alert: acknowledge, resolve, mark a false alarm.
 * Each is decided from the current row and written with its audit entry in one transaction — or,
 * while the disk refuses writes, made on the alert held in memory.
 */
export class AlertActions {
  constructor(
    private readonly ctx: AlertContext,
    private readonly alerts: AlertStore,
    private readonly queries: AlertQueries,
  ) {}

  private get db() {
    return this.alerts.db;
  }

  private view(r: AlertRow): AlertView {
    return alertView(r);
  }

  /**
   * A state change by a person or a device: decided from the current row, written with its audit
   * entry in one transaction — or, while the disk refuses writes, made on the alert in memory.
   */
  private async transition(
    id: string,
    actor: string,
    decide: (r: AlertRow) => Partial<AlertRow>,
    audit: { action: string; data: (r: AlertRow) => unknown },
    change: AlertChangeAction,
  ): Promise<AlertView> {
    const held = this.ctx.volatile.get(id);
    let row: AlertRow;
    if (held) row = this.ctx.volatile.update(id, decide(held)) as AlertRow;
    else {
      try {
        row = await this.db.transaction().execute(async (trx) => {
          const r = await trx.selectFrom('alerts').selectAll().where('id', '=', id).executeTakeFirst();
          if (!r) throw new GridhubError('GH_ERR_NOT_FOUND', `no alert '${id}'`);
          const update = decide(r);
          await trx.updateTable('alerts').set(update).where('id', '=', id).execute();
          await appendAudit(trx, {
            actor,
            action: audit.action,
            entityType: 'alert',
            entityId: id,
            data: audit.data(r),
          });
          return { ...r, ...update };
        });
      } catch (err) {
        if (isGridhubError(err) || !storageFailed(this.ctx, err)) throw err;
        const r = await this.db.selectFrom('alerts').selectAll().where('id', '=', id).executeTakeFirst();
        if (!r) throw err;
        this.ctx.volatile.add(r, null);
        row = this.ctx.volatile.update(id, decide(r)) as AlertRow;
      }
    }
    this.ctx.feed.changed(row, change);
    return this.view(row);
  }

  /** Acknowledge: stops re-notification and escalation for everyone. */
  async acknowledge(actor: string, id: string, channel: string): Promise<AlertView> {
    const now = this.ctx.now();
    return this.transition(
      id,
      actor,
      (r) => {
        if (r.state !== 'raised')
          throw new GridhubError('GH_ERR_INVALID_TRANSITION', `the alert is already ${r.state}`, {
            state: r.state,
          });
        return {
          state: 'acknowledged',
          acked_by: actor,
          acked_at: now,
          ack_channel: channel,
          next_step_at: null,
          next_renotify_at: null,
          updated_at: now,
        };
      },
      { action: 'alert.acknowledge', data: (r) => ({ channel, step: r.step }) },
      'acknowledged',
    );
  }

  /**
   * May a staff client publish here? Only the ack topic of an alert the person may see and
   * acknowledge (the broker closes the connection otherwise).
   */
  async mayPublish(principal: Principal, topic: string): Promise<boolean> {
    const ack = parseTopic('staffAck', topic);
    if (!ack) return false;
    try {
      requirePermission(principal, 'alert:ack');
      await this.queries.visible(principal, ack.alertId);
      return true;
    } catch (err) {
      if (err instanceof GridhubError) return false;
      throw err;
    }
  }

  async acknowledgeAs(principal: Principal, id: string, channel: string): Promise<AlertView> {
    requirePermission(principal, 'alert:ack');
    await this.queries.visible(principal, id);
    return (
      await nameAlerts(this.db, [await this.acknowledge(actorOf(principal), id, channel)])
    )[0] as AlertView;
  }

  async resolve(
    actor: string,
    id: string,
    resolution: 'restored' | 'resolved' | 'false-alarm',
    reason: string | null,
  ): Promise<AlertView> {
    const now = this.ctx.now();
    return this.transition(
      id,
      actor,
      (r) => {
        if (r.state === 'resolved')
          throw new GridhubError('GH_ERR_INVALID_TRANSITION', 'the alert is already resolved', {
            state: r.state,
          });
        return {
          state: 'resolved',
          resolved_by: actor,
          resolved_at: now,
          resolution,
          reason,
          next_step_at: null,
          next_renotify_at: null,
          updated_at: now,
        };
      },
      { action: `alert.${resolution}`, data: () => ({ reason }) },
      resolution,
    );
  }

  async resolveAs(
    principal: Principal,
    id: string,
    falseAlarm: boolean,
    reason: string | null,
  ): Promise<AlertView> {
    requirePermission(principal, 'alert:resolve');
    await this.queries.visible(principal, id);
    if (falseAlarm && !reason) throw new GridhubError('GH_ERR_VALIDATION', 'a false alarm needs a reason');
    const view = await this.resolve(actorOf(principal), id, falseAlarm ? 'false-alarm' : 'resolved', reason);
    return (await nameAlerts(this.db, [view]))[0] as AlertView;
  }

  /** A device's own restore: its active alerts of these causes are resolved (the ticket stays for people). */
  async resolveRestored(
    deviceId: string,
    causes: (cause: string) => boolean,
    reason: string,
  ): Promise<number> {
    const rows = await this.db
      .selectFrom('alerts')
      .selectAll()
      .where('device_id', '=', deviceId)
      .where('state', '!=', 'resolved')
      .execute();
    let n = 0;
    for (const r of rows)
      if (causes(r.cause)) {
        await this.resolve(`device:${deviceId}`, r.id, 'restored', reason);
        n++;
      }
    return n;
  }
}
