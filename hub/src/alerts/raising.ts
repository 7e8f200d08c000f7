import { randomBytes } from 'node:crypto';
import { appendAudit } from '../audit/audit-log.ts';
import type { AlertRequested } from '../bus.ts';
import { moreSevere, type Severity } from '../contract/severity.ts';
import type { AlertChangeAction } from '../contract/staff-messages.ts';
import type { AlertRow } from '../store/tables.ts';
import { type AlertContext, perSeverity, storageFailed } from './alert-context.ts';
import { storedTitle } from './alert-names.ts';
import type { AlertView } from './alert-schemas.ts';
import type { AlertStore } from './alert-store.ts';
import { alertView } from './alert-view.ts';
import { chainFor } from './chain.ts';
import type { AlertDelivery } from './delivery.ts';

/**
 * Raising: one active alert per incident (a repeat counts up on it, an upgrade takes the new
 * severity, a repeat after an acknowledgement reaches the acknowledger), idempotent per device event
 * (the rules run again after a crash), and from memory while the store refuses writes — stored with
 * its delivery log once it takes them again. Linking the alert to its ticket is the tickets'
 * business: they take it from `alert.changed` (tickets/alert-links.ts).
 */
export class AlertRaising {
  constructor(
    private readonly ctx: AlertContext,
    private readonly alerts: AlertStore,
    private readonly delivery: AlertDelivery,
  ) {}

  private get db() {
    return this.alerts.db;
  }

  /** What a repeat of an incident changes on its active alert (an upgrade takes the new severity). */
  private repeatOf(active: AlertRow, req: AlertRequested, now: number) {
    const upgraded = moreSevere(req.severity, active.severity as Severity);
    const update = {
      count: active.count + 1,
      updated_at: now,
      ...(upgraded ? { severity: req.severity, cause: req.cause, ...storedTitle(req) } : {}),
    };
    // A repeat while someone has acknowledged is news for them: the button was pressed again.
    const again = active.state === 'acknowledged' ? 'repeated-after-ack' : 'repeated';
    const action: AlertChangeAction = upgraded ? 'upgraded' : again;
    return { update, upgraded, action };
  }

  private freshRow(req: AlertRequested, incidentKey: string, chain: string[], now: number): AlertRow {
    const at = { gridPath: req.gridPath, siteId: req.siteId, deviceId: req.deviceId };
    const policies = this.ctx.policies;
    return {
      id: `A${new Date(now).toISOString().slice(0, 10).replaceAll('-', '')}-${randomBytes(4).toString('hex')}`,
      incident_key: incidentKey,
      severity: req.severity,
      cause: req.cause,
      ...storedTitle(req),
      device_id: req.deviceId,
      device_type: req.deviceType,
      site_id: req.siteId,
      grid_node_id: req.gridNodeId,
      grid_path: req.gridPath,
      emergency_unit_id: req.emergencyUnitId,
      ticket_id: req.ticketId,
      state: 'raised',
      count: 1,
      chain: JSON.stringify(chain),
      step: 0,
      next_step_at:
        chain.length > 1 ? now + perSeverity(policies, 'alert.stepDelaySeconds', req.severity, at) : null,
      next_renotify_at: now + perSeverity(policies, 'alert.renotifySeconds', req.severity, at),
      renotify_count: 0,
      acked_by: null,
      acked_at: null,
      ack_channel: null,
      resolved_by: null,
      resolved_at: null,
      resolution: null,
      reason: null,
      created_at: now,
      updated_at: now,
    };
  }

  async raise(req: AlertRequested): Promise<AlertView> {
    const { volatile, feed } = this.ctx;
    const incidentKey = req.ticketId ? `ticket:${req.ticketId}` : `${req.deviceId}:${req.cause}`;
    const held = volatile.find(req.eventRef, incidentKey);
    if (held && volatile.absorbed(held.id, req.eventRef)) {
      // Alerted from memory while the disk was full; the rules ran again on the event: store it now.
      if (req.ticketId && !held.ticket_id)
        volatile.update(held.id, { ticket_id: req.ticketId, incident_key: `ticket:${req.ticketId}` });
      await this.persistHeld();
      return alertView(volatile.get(held.id) ?? held);
    }
    if (req.eventRef) {
      // After a crash the rules run again on events they had not finished: one event, one alert.
      const prior = await this.alerts.byEvent(req.eventRef);
      if (prior)
        return alertView(
          prior.ticket_id || !req.ticketId ? prior : await this.attachTicket(prior, req.ticketId),
        );
    }
    const chain = await chainFor(this.db, this.ctx.policies, req.emergencyUnitId, req.gridPath, req.siteId);
    const now = this.ctx.now();
    let outcome: { row: AlertRow; action: AlertChangeAction };
    if (held) outcome = this.repeatHeld(held, req, now);
    else {
      try {
        outcome = await this.db.transaction().execute(async (trx) => {
          const active = await this.alerts.activeFor(incidentKey, trx);
          if (active) {
            const { update, upgraded, action } = this.repeatOf(active, req, now);
            const row = { ...active, ...update };
            await trx.updateTable('alerts').set(update).where('id', '=', active.id).execute();
            await appendAudit(trx, {
              actor: 'system',
              action: upgraded ? 'alert.upgrade' : 'alert.repeat',
              entityType: 'alert',
              entityId: active.id,
              data: { cause: req.cause, severity: req.severity },
            });
            await this.alerts.recordEvent(trx, row.id, req.eventRef);
            return { row, action };
          }
          const row = this.freshRow(req, incidentKey, chain, now);
          await trx.insertInto('alerts').values(row).execute();
          await appendAudit(trx, {
            actor: 'system',
            action: 'alert.raise',
            entityType: 'alert',
            entityId: row.id,
            data: { cause: req.cause, severity: req.severity, chain },
          });
          await this.alerts.recordEvent(trx, row.id, req.eventRef);
          return { row, action: 'raised' as const };
        });
      } catch (err) {
        if (!storageFailed(this.ctx, err)) throw err;
        outcome = await this.raiseHeld(req, incidentKey, chain, now);
      }
    }
    const { row, action } = outcome;
    feed.changed(row, action);
    if (action !== 'repeated' && row.state === 'raised')
      await this.delivery.notify(row, JSON.parse(row.chain).slice(0, row.step + 1), true);
    else if (row.state === 'acknowledged') {
      // The chain stopped at the acknowledgement; the person who took it on hears that it happened
      // again (and the groups hear of an upgrade, as on a raised alert).
      const acker = row.acked_by?.startsWith('person:') ? [row.acked_by.slice('person:'.length)] : [];
      await this.delivery.notify(row, acker, action === 'upgraded');
    }
    return alertView(row);
  }

  /** An alert raised without a ticket (from memory, the disk full) joins the ticket raised after recovery. */
  private async attachTicket(row: AlertRow, ticketId: string): Promise<AlertRow> {
    const update = { ticket_id: ticketId, incident_key: `ticket:${ticketId}`, updated_at: this.ctx.now() };
    await this.db.updateTable('alerts').set(update).where('id', '=', row.id).execute();
    const next = { ...row, ...update };
    this.ctx.feed.changed(next, 'linked');
    return next;
  }

  /** The disk refused the alert: raise it (or count the repeat) in memory, delivered all the same. */
  private async raiseHeld(req: AlertRequested, incidentKey: string, chain: string[], now: number) {
    const stored = await this.alerts.activeFor(incidentKey);
    if (stored) {
      this.ctx.volatile.add(stored, null);
      return this.repeatHeld(stored, req, now);
    }
    const row = this.freshRow(req, incidentKey, chain, now);
    this.ctx.volatile.add(row, req.eventRef);
    this.ctx.logger.error(
      { alertId: row.id, cause: req.cause },
      'alert raised from memory: the store refuses writes',
    );
    return { row, action: 'raised' as const };
  }

  private repeatHeld(
    held: AlertRow,
    req: AlertRequested,
    now: number,
  ): { row: AlertRow; action: AlertChangeAction } {
    const { update, action } = this.repeatOf(held, req, now);
    // A ticket raised after recovery gives the held alert its place in the ticket's incident.
    const placed =
      req.ticketId && !held.ticket_id
        ? { ticket_id: req.ticketId, incident_key: `ticket:${req.ticketId}` }
        : {};
    const row = this.ctx.volatile.update(held.id, { ...update, ...placed }) as AlertRow;
    this.ctx.volatile.addEvent(held.id, req.eventRef);
    return { row, action };
  }

  /** Write what was held in memory once the store takes writes again. */
  async persistHeld(): Promise<void> {
    for (const { row, events, deliveries } of this.ctx.volatile.entries()) {
      try {
        await this.db.transaction().execute(async (trx) => {
          const exists = await trx
            .selectFrom('alerts')
            .select('id')
            .where('id', '=', row.id)
            .executeTakeFirst();
          const { id, ...rest } = row;
          await trx
            .insertInto('alerts')
            .values(row)
            .onConflict((oc) => oc.column('id').doUpdateSet(rest))
            .execute();
          for (const e of events) await this.alerts.recordEvent(trx, id, e);
          if (deliveries.length > 0) await trx.insertInto('alert_deliveries').values(deliveries).execute();
          await appendAudit(trx, {
            actor: 'system',
            action: exists ? 'alert.stored-after-outage' : 'alert.raise',
            entityType: 'alert',
            entityId: id,
            data: { heldInMemory: true, cause: row.cause, severity: row.severity, events },
          });
        });
        this.ctx.volatile.forget(row.id);
        this.ctx.feed.changed(row, 'stored');
      } catch (err) {
        if (!storageFailed(this.ctx, err))
          this.ctx.logger.error({ err, alertId: row.id }, 'storing a held alert failed');
        return;
      }
    }
  }
}
