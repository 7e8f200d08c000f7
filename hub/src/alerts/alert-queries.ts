import { covers, type Principal, requirePermission } from '../auth/principal.ts';
import { GridhubError } from '../errors.ts';
import type { AlertRow } from '../store/tables.ts';
import { isoTime as iso } from '../time.ts';
import { nameAlerts, nameDeliveries } from './alert-names.ts';
import type { AlertListQuery, AlertView, DeliveryView } from './alert-schemas.ts';
import type { AlertStore } from './alert-store.ts';
import { alertView } from './alert-view.ts';
import type { VolatileAlerts } from './volatile-alerts.ts';

/** What people may see of alerts, and the reads the API serves (held alerts included). */
export class AlertQueries {
  constructor(
    private readonly alerts: AlertStore,
    private readonly volatile: VolatileAlerts,
  ) {}

  private get db() {
    return this.alerts.db;
  }

  private view(r: AlertRow): AlertView {
    return alertView(r);
  }

  private unitsOf(personId: string): Promise<Set<string>> {
    return this.alerts.unitsOf(personId);
  }

  /** Staff see alerts in their jurisdiction; unit leaders those of the units they belong to. */
  async visibility(
    principal: Principal,
  ): Promise<
    (row: { grid_path: string; site_id: string | null; emergency_unit_id: string | null }) => boolean
  > {
    const staff = principal.roles.some((r) =>
      ['admin', 'grid-staff', 'street-duty', 'department', 'property-manager'].includes(r),
    );
    const units = principal.roles.includes('unit-leader')
      ? await this.unitsOf(principal.personId)
      : new Set<string>();
    return (row) =>
      (staff && covers(principal.jurisdiction, { gridPath: row.grid_path, siteId: row.site_id })) ||
      (row.emergency_unit_id != null && units.has(row.emergency_unit_id));
  }

  async visible(principal: Principal, id: string): Promise<AlertRow> {
    requirePermission(principal, 'alert:read');
    const row =
      this.volatile.get(id) ??
      (await this.db.selectFrom('alerts').selectAll().where('id', '=', id).executeTakeFirst());
    if (!row) throw new GridhubError('GH_ERR_NOT_FOUND', `no alert '${id}'`);
    if (!(await this.visibility(principal))(row))
      throw new GridhubError('GH_ERR_FORBIDDEN_SCOPE', `alert '${id}' is not one of yours`);
    return row;
  }

  async list(principal: Principal, q: AlertListQuery): Promise<{ total: number; items: AlertView[] }> {
    requirePermission(principal, 'alert:read');
    let query = this.db.selectFrom('alerts').selectAll();
    if (q.state) query = query.where('state', '=', q.state);
    if (q.active !== undefined) query = query.where('state', q.active ? '!=' : '=', 'resolved');
    if (q.severity) query = query.where('severity', '=', q.severity);
    if (q.unit) query = query.where('emergency_unit_id', '=', q.unit);
    const see = await this.visibility(principal);
    // Alerts held in memory (the disk refused them) are listed too, newest version first.
    const held = this.volatile
      .all()
      .filter(
        (r) =>
          (!q.state || r.state === q.state) &&
          (q.active === undefined || (r.state !== 'resolved') === q.active),
      )
      .filter(
        (r) => (!q.severity || r.severity === q.severity) && (!q.unit || r.emergency_unit_id === q.unit),
      );
    const heldIds = new Set(this.volatile.all().map((r) => r.id));
    const stored = (await query.orderBy('created_at', 'desc').execute()).filter((r) => !heldIds.has(r.id));
    const rows = [...held, ...stored].sort((a, b) => b.created_at - a.created_at).filter(see);
    const page = rows.slice(q.offset, q.offset + q.limit).map((r) => this.view(r));
    return { total: rows.length, items: await nameAlerts(this.db, page) };
  }

  async detail(principal: Principal, id: string): Promise<{ alert: AlertView; deliveries: DeliveryView[] }> {
    const row = await this.visible(principal, id);
    const deliveries = await this.db
      .selectFrom('alert_deliveries')
      .selectAll()
      .where('alert_id', '=', id)
      .orderBy('id')
      .execute();
    return nameDeliveries(
      this.db,
      this.view(row),
      deliveries.map((d) => ({
        step: d.step,
        recipient: d.recipient,
        channel: d.channel,
        attempt: d.attempt,
        at: iso(d.at) as string,
        result: d.result as DeliveryView['result'],
        detail: d.detail,
        confirmedAt: iso(d.confirmed_at),
      })),
    );
  }

  /** Alerts with names beside their ids (API responses, the console's stream). */
  named(views: AlertView[]): Promise<AlertView[]> {
    return nameAlerts(this.db, views);
  }

  async titleOf(id: string): Promise<string> {
    return (
      (await this.db.selectFrom('alerts').select('title').where('id', '=', id).executeTakeFirst())?.title ??
      id
    );
  }
}
