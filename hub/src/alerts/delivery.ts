import type { DeliveryScope } from '../bus.ts';
import type { AlertRow } from '../store/tables.ts';
import type { AckLinks } from './ack-links.ts';
import { type AlertContext, alertAt, storageFailed } from './alert-context.ts';
import type { DeliveryView } from './alert-schemas.ts';
import type { AlertStore } from './alert-store.ts';
import { alertView } from './alert-view.ts';
import { alertMessage } from './message.ts';
import type { PersonChannel } from './person-channel.ts';

/** Records one delivery attempt in an alert's log (held in memory with the alert while the disk refuses). */
export type DeliveryLog = (
  alertId: string,
  step: number,
  recipient: string,
  channel: string,
  attempt: number,
  result: DeliveryView['result'],
  detail: string | null,
) => Promise<void>;

/**
 * One notification round of an alert: MQTT to each recipient's own topic (person-channel.ts, with an
 * honest log), and — on raise, escalation and upgrade, not on every re-notification — the news on
 * the bus (`alert.notified`) for the group webhooks of the unit and its grid (output/webhook-output.ts).
 * MQTT goes first and never waits for a webhook.
 */
export class AlertDelivery {
  constructor(
    private readonly ctx: AlertContext,
    private readonly alerts: AlertStore,
    private readonly persons: PersonChannel,
    private readonly links: AckLinks,
    /** the stored-due-time escalation is asked to look again (a person could not be reached) */
    private readonly escalateNow: () => void,
  ) {}

  private get db() {
    return this.alerts.db;
  }

  readonly log: DeliveryLog = async (alertId, step, recipient, channel, attempt, result, detail) => {
    const entry = {
      alert_id: alertId,
      step,
      recipient,
      channel,
      attempt,
      at: this.ctx.now(),
      result,
      detail,
    };
    this.ctx.metrics.alertDeliveries.inc({ channel, result });
    // A held alert keeps its log in memory; a delivery must never fail because its log line could not.
    if (this.ctx.volatile.logDelivery(entry)) return;
    try {
      await this.alerts.insertDelivery(entry);
    } catch (err) {
      if (!storageFailed(this.ctx, err)) throw err;
    }
  };

  private quiet(row: AlertRow): boolean {
    if (row.severity === 'critical') return false;
    const q = this.ctx.policies.value('alert.quietHours', alertAt(row));
    if (!q) return false;
    const hm = new Date(this.ctx.now()).toLocaleTimeString('en-GB', {
      timeZone: 'Asia/Shanghai',
      hour: '2-digit',
      minute: '2-digit',
      hour12: false,
    });
    return q.start <= q.end ? hm >= q.start && hm < q.end : hm >= q.start || hm < q.end;
  }

  async notify(row: AlertRow, recipients: string[], withWebhooks: boolean): Promise<void> {
    const view = alertView(row);
    const site = row.site_id
      ? ((await this.db.selectFrom('sites').select('name').where('id', '=', row.site_id).executeTakeFirst())
          ?.name ?? row.site_id)
      : row.grid_node_id;
    const names = await this.db
      .selectFrom('people')
      .select(['id', 'name'])
      .where('id', 'in', recipients.length ? recipients : [''])
      .execute();
    const who = recipients.map((r) => names.find((n) => n.id === r)?.name ?? r).join('、');
    const quiet = this.quiet(row);
    const unreachable = new Set<string>();
    for (const person of recipients) {
      if (quiet) {
        await this.log(row.id, row.step, person, 'mqtt', 1, 'suppressed', 'quiet hours (non-critical)');
        continue;
      }
      const message = alertMessage(view, site, this.links.url(row.id, person), who);
      const result = await this.persons.deliver(
        row.id,
        row.step,
        person,
        { alert: view, text: message.text, ackUrl: this.links.url(row.id, person) },
        (entry) => this.ctx.volatile.logDelivery(entry),
        (err) => storageFailed(this.ctx, err),
      );
      if (result === 'no-channel') unreachable.add(person);
    }
    // Groups hear of the step that reaches someone, not of each person skipped on the way.
    if ((await this.skipUnreachable(row, unreachable)) || !withWebhooks || quiet) return;
    const scope: DeliveryScope = {
      gridPath: row.grid_path,
      siteId: row.site_id,
      emergencyUnitId: row.emergency_unit_id,
    };
    this.ctx.bus.emit('alert.notified', { alert: view, scope, site, recipients: who });
  }

  /**
   * The person the chain has reached cannot be reached at all (no session, no token): page the
   * next one now instead of after the step delay. The step itself stays the stored-due-time
   * escalation (audited, once, restart-safe); only its due time moves to now.
   */
  private async skipUnreachable(row: AlertRow, unreachable: Set<string>): Promise<boolean> {
    const chain = JSON.parse(row.chain) as string[];
    const current = chain[row.step];
    if (current === undefined || !unreachable.has(current) || row.step >= chain.length - 1) return false;
    const now = this.ctx.now();
    if (this.ctx.volatile.get(row.id)) this.ctx.volatile.update(row.id, { next_step_at: now });
    else
      try {
        await this.db
          .updateTable('alerts')
          .set({ next_step_at: now })
          .where('id', '=', row.id)
          .where('state', '=', 'raised')
          .where('step', '=', row.step)
          .execute();
      } catch (err) {
        // The disk refused: the next person is paged at the step delay instead of now.
        if (!storageFailed(this.ctx, err)) throw err;
        return false;
      }
    this.ctx.logger.info(
      { alertId: row.id, personId: current, step: row.step },
      'no channel; paging the next person',
    );
    this.escalateNow();
    return true;
  }
}
