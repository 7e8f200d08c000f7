import { sql } from 'kysely';
import { appendAudit } from '../audit/audit-log.ts';
import { actorOf, type Principal, requirePermission, requireScope } from '../auth/principal.ts';
import type { Bus } from '../bus.ts';
import { GridhubError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { Store } from '../store/store.ts';
import { isoTime as iso } from '../time.ts';

/** An elevator in service and when it was last maintained (its install time when never). */
export interface ElevatorMaintenance {
  deviceId: string;
  modelId: string;
  siteId: string;
  gridNodeId: string;
  gridPath: string;
  emergencyUnitId: string | null;
  /** epoch ms of the last visit, or of the installation */
  lastVisitAt: number;
}

/** Ticket categories whose closing, on an elevator, is its maintenance visit. */
const MAINTENANCE_CATEGORIES = new Set(['maintenance', 'recurring-fault']);

/**
 * Elevator maintenance visits (TSG T5002: at least every 15 days), owned here and not by tickets:
 * recorded through the API by property managers and maintenance companies, or taken from a closed
 * maintenance ticket of an elevator (`ticket.changed`, action `close`). The maintenance rule asks
 * for the last visit of every elevator in service.
 */
export class MaintenanceVisits {
  private off: (() => void) | undefined;

  constructor(
    private readonly store: Store,
    private readonly bus: Bus,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Record an elevator maintenance visit (property manager or maintenance company). */
  async recordVisit(
    principal: Principal,
    deviceId: string,
    visit: { at?: string; notes?: string },
  ): Promise<void> {
    requirePermission(principal, 'maintenance:record');
    const d = await this.store.db
      .selectFrom('devices')
      .innerJoin('grid_nodes', 'grid_nodes.id', 'devices.grid_node_id')
      .select(['devices.type', 'devices.site_id', 'grid_nodes.path'])
      .where('devices.id', '=', deviceId)
      .executeTakeFirst();
    if (!d) throw new GridhubError('GH_ERR_DEVICE_UNKNOWN', `no device '${deviceId}'`);
    requireScope(principal, { gridPath: d.path, siteId: d.site_id }, `device '${deviceId}'`);
    if (d.type !== 'elevator-monitor')
      throw new GridhubError('GH_ERR_VALIDATION', 'maintenance visits are recorded for elevators');
    const at = visit.at ? Date.parse(visit.at) : this.now();
    await this.store.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('maintenance_visits')
        .values({
          device_id: deviceId,
          at,
          by: actorOf(principal),
          notes: visit.notes ?? null,
          ticket_id: null,
        })
        .execute();
      await appendAudit(trx, {
        actor: actorOf(principal),
        action: 'elevator.maintenance-visit',
        entityType: 'device',
        entityId: deviceId,
        data: { at: iso(at), notes: visit.notes ?? null },
      });
    });
  }

  /** Every elevator in service with its last visit (maintenance rule). */
  async lastVisits(): Promise<ElevatorMaintenance[]> {
    const rows = await this.store.db
      .selectFrom('devices')
      .innerJoin('grid_nodes', 'grid_nodes.id', 'devices.grid_node_id')
      .leftJoin(
        (eb) =>
          eb
            .selectFrom('maintenance_visits')
            .select(['device_id', sql<number>`max(at)`.as('last')])
            .groupBy('device_id')
            .as('v'),
        (join) => join.onRef('v.device_id', '=', 'devices.id'),
      )
      .select([
        'devices.id',
        'devices.site_id',
        'devices.grid_node_id',
        'devices.emergency_unit_id',
        'devices.model_id',
        'devices.installed_at',
        'grid_nodes.path',
        'v.last',
      ])
      .where('devices.type', '=', 'elevator-monitor')
      .where('devices.status', 'in', ['active', 'provisioned'])
      .execute();
    return rows.map((r) => ({
      deviceId: r.id,
      modelId: r.model_id,
      siteId: r.site_id,
      gridNodeId: r.grid_node_id,
      gridPath: r.path,
      emergencyUnitId: r.emergency_unit_id,
      lastVisitAt: r.last ?? r.installed_at,
    }));
  }

  /** A closed maintenance ticket of an elevator counts as its maintenance visit. */
  private async ticketClosed(
    ticketId: string,
    deviceId: string,
    by: string,
    note: string | null,
  ): Promise<void> {
    const device = await this.store.db
      .selectFrom('devices')
      .select('type')
      .where('id', '=', deviceId)
      .executeTakeFirst();
    if (device?.type !== 'elevator-monitor') return;
    await this.store.db
      .insertInto('maintenance_visits')
      .values({
        device_id: deviceId,
        at: this.now(),
        by,
        notes: note ?? 'maintenance ticket closed',
        ticket_id: ticketId,
      })
      .execute();
  }

  async start(): Promise<void> {
    this.off = this.bus.on('ticket.changed', ({ ticket, action, by }) => {
      if (action !== 'close' || !ticket.deviceId || !MAINTENANCE_CATEGORIES.has(ticket.category)) return;
      this.ticketClosed(ticket.id, ticket.deviceId, by?.actor ?? 'system', by?.note ?? null).catch(
        (err: unknown) =>
          this.logger.error({ err, ticketId: ticket.id }, 'maintenance visit of a closed ticket not stored'),
      );
    });
  }

  async stop(): Promise<void> {
    this.off?.();
  }
}
