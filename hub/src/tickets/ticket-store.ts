import { type Kysely, sql, type Transaction } from 'kysely';
import { appendAudit } from '../audit/audit-log.ts';
import type { Principal } from '../auth/principal.ts';
import { GridhubError } from '../errors.ts';
import { under } from '../grid/placement.ts';
import type { Store } from '../store/store.ts';
import type { Database, TicketRow } from '../store/tables.ts';
import { FINISHED_STATE_LIST } from './lifecycle.ts';
import type { TicketCategory } from './ticket-schemas.ts';

export type Trx = Transaction<Database> | Kysely<Database>;
/** A ticket with the materialised path of its grid node (jurisdiction, policies, delivery scope). */
export type PlacedTicket = TicketRow & { path: string };

/** What a timeline entry says (the audit log gets the same, in the same transaction). */
export interface TimelineEntry {
  actor: string;
  action: string;
  from?: string | null;
  to?: string | null;
  note?: string | null;
  data?: unknown;
}

/**
 * The SQL of the tickets' own tables (tickets, ticket_timeline, ticket_links): the decisions are in
 * the parts of the service, the statements here. Inside a transaction pass the transaction.
 */
export class TicketStore {
  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
  ) {}

  get db(): Kysely<Database> {
    return this.store.db;
  }

  /** One timeline entry and its audit entry. */
  async timeline(trx: Trx, row: TicketRow, entry: TimelineEntry): Promise<void> {
    await trx
      .insertInto('ticket_timeline')
      .values({
        ticket_id: row.id,
        at: this.now(),
        actor: entry.actor,
        action: entry.action,
        from_state: entry.from ?? null,
        to_state: entry.to ?? null,
        level: row.level,
        note: entry.note ?? null,
        data: entry.data === undefined ? null : JSON.stringify(entry.data),
      })
      .execute();
    await appendAudit(trx, {
      actor: entry.actor,
      action: `ticket.${entry.action}`,
      entityType: 'ticket',
      entityId: row.id,
      data: {
        from: entry.from ?? null,
        to: entry.to ?? null,
        level: row.level,
        note: entry.note ?? null,
        ...(entry.data ? { data: entry.data } : {}),
      },
    });
  }

  /** Tickets with their grid node's path. */
  private placed(trx: Trx) {
    return trx
      .selectFrom('tickets')
      .innerJoin('grid_nodes', 'grid_nodes.id', 'tickets.grid_node_id')
      .selectAll('tickets')
      .select('grid_nodes.path');
  }

  async row(trx: Trx, id: string): Promise<PlacedTicket> {
    const row = await this.placed(trx).where('tickets.id', '=', id).executeTakeFirst();
    if (!row) throw new GridhubError('GH_ERR_NOT_FOUND', `no ticket '${id}'`);
    return row;
  }

  /**
   * A link's time is the latest time its ref was linked: the smoke rule counts the detectors whose
   * last alarm lies within the confirmation window, so a detector that alarms again after an earlier
   * alarm (a fire flaring up after a resolve) counts again.
   */
  async link(trx: Trx, id: string, link: { kind: string; ref: string; at?: number }): Promise<void> {
    await trx
      .insertInto('ticket_links')
      .values({ ticket_id: id, kind: link.kind, ref: link.ref, at: link.at ?? this.now() })
      .onConflict((oc) =>
        oc.columns(['ticket_id', 'kind', 'ref']).doUpdateSet({
          at: sql<number>`case when excluded.at > ticket_links.at then excluded.at else ticket_links.at end`,
        }),
      )
      .execute();
  }

  /** The open ticket of an incident (one per incident key). */
  async findOpen(incidentKey: string, trx: Trx = this.db): Promise<PlacedTicket | undefined> {
    return this.placed(trx)
      .where('tickets.incident_key', '=', incidentKey)
      .where('tickets.state', 'not in', FINISHED_STATE_LIST)
      .executeTakeFirst();
  }

  /** Open tickets of one category with their grid path (rules that revisit their tickets on a tick). */
  async openOf(category: TicketCategory): Promise<(TicketRow & { path: string })[]> {
    return this.placed(this.db)
      .where('tickets.category', '=', category)
      .where('tickets.state', 'not in', FINISHED_STATE_LIST)
      .execute();
  }

  async links(id: string, kind: string): Promise<{ ref: string; at: number }[]> {
    return this.db
      .selectFrom('ticket_links')
      .select(['ref', 'at'])
      .where('ticket_id', '=', id)
      .where('kind', '=', kind)
      .execute();
  }

  /** An alert raised for the ticket (the alerts announce it on the bus; the link is the tickets'). */
  async linkAlert(ticketId: string, alertId: string, at: number): Promise<void> {
    await this.db
      .insertInto('ticket_links')
      .values({ ticket_id: ticketId, kind: 'alert', ref: alertId, at })
      .onConflict((oc) => oc.doNothing())
      .execute();
  }

  /** Tickets joined with their grid node, narrowed to what the caller may see. */
  scoped(principal: Principal) {
    let q = this.db.selectFrom('tickets').innerJoin('grid_nodes', 'grid_nodes.id', 'tickets.grid_node_id');
    const j = principal.jurisdiction;
    if (j.kind === 'grid') q = q.where(under('grid_nodes.path', j.path));
    if (j.kind === 'sites')
      q = q.where('tickets.site_id', 'in', j.siteIds.length > 0 ? j.siteIds : ['\u0000']);
    return q;
  }
}
