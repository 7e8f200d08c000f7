import { actorOf, type Principal, requirePermission, requireScope } from '../auth/principal.ts';
import { roleAllows } from '../auth/roles.ts';
import { GridhubError } from '../errors.ts';
import { lookupNames } from '../grid/names.ts';
import { placeDevice, placeGridNode, placeSite, under } from '../grid/placement.ts';
import type { TicketRow } from '../store/tables.ts';
import { isoTime as iso } from '../time.ts';
import {
  allowedFrom,
  FINISHED_STATE_LIST,
  LIFECYCLE,
  TICKET_ACTIONS,
  type TicketState,
} from './lifecycle.ts';
import type { TicketPlacement, TicketRaising } from './raising.ts';
import type { TicketParts } from './ticket-parts.ts';
import type { ManualTicketBody, TicketListQuery, TicketView } from './ticket-schemas.ts';
import type { PlacedTicket } from './ticket-store.ts';
import { nameTickets, ticketRefs, withTicketNames } from './ticket-titles.ts';
import { ticketView } from './ticket-view.ts';

/** People's side of tickets: a manual ticket, one ticket with its timeline, the filtered queue. */
export class TicketQueries {
  constructor(
    private readonly p: TicketParts,
    private readonly raising: TicketRaising,
  ) {}

  private get db() {
    return this.p.tickets.db;
  }

  private view(row: TicketRow): TicketView {
    return ticketView(row, this.p.now());
  }

  private scoped(principal: Principal) {
    return this.p.tickets.scoped(principal);
  }

  async create(principal: Principal, body: ManualTicketBody): Promise<TicketView> {
    requirePermission(principal, 'ticket:create');
    const db = this.db;
    let placement: TicketPlacement;
    if (body.device) placement = await placeDevice(db, body.device);
    else if (body.site) placement = await placeSite(db, body.site);
    else if (body.gridNode) placement = await placeGridNode(db, body.gridNode);
    else throw new GridhubError('GH_ERR_VALIDATION', 'a ticket needs a device, a site or a grid node');
    requireScope(principal, { gridPath: placement.gridPath, siteId: placement.siteId }, 'the ticket’s place');
    const { ticket } = await this.raising.raise({
      category: body.category,
      source: body.source,
      severity: body.severity,
      title: body.title,
      ...(body.description ? { description: body.description } : {}),
      placement,
      ...(body.level ? { level: body.level } : {}),
      actor: actorOf(principal),
    });
    return (await nameTickets(this.db, [ticket]))[0] as TicketView;
  }

  async visible(principal: Principal, id: string): Promise<PlacedTicket> {
    requirePermission(principal, 'ticket:read');
    const row = await this.p.tickets.row(this.db, id);
    requireScope(principal, { gridPath: row.path, siteId: row.site_id }, `ticket '${id}'`);
    return row;
  }

  async detail(principal: Principal, id: string) {
    const row = await this.visible(principal, id);
    const db = this.db;
    const timeline = await db
      .selectFrom('ticket_timeline')
      .selectAll()
      .where('ticket_id', '=', id)
      .orderBy('seq')
      .execute();
    const links = await db
      .selectFrom('ticket_links')
      .selectAll()
      .where('ticket_id', '=', id)
      .orderBy('at')
      .execute();
    // Devices of event links (`deviceId:eventId`; device ids have no colon) and device links.
    const linkDevice = (l: { kind: string; ref: string }) =>
      l.kind === 'device' ? l.ref : l.kind === 'event' ? (l.ref.split(':')[0] ?? null) : null;
    const view = this.view(row);
    const refs = ticketRefs([view]);
    const names = await lookupNames(db, {
      ...refs,
      person: [...(refs.person ?? []), ...timeline.map((t) => /^person:(.+)$/.exec(t.actor)?.[1])],
      device: [...(refs.device ?? []), ...links.map(linkDevice)],
    });
    return {
      ticket: withTicketNames(view, names),
      timeline: timeline.map((t) => ({
        at: iso(t.at) as string,
        actor: t.actor,
        actorName: names.actor(t.actor),
        action: t.action,
        fromState: t.from_state,
        toState: t.to_state,
        level: t.level,
        note: t.note,
        data: t.data ? (JSON.parse(t.data) as unknown) : null,
      })),
      links: links.map((l) => ({
        kind: l.kind,
        ref: l.ref,
        name: names.get('device', linkDevice(l)),
        at: iso(l.at) as string,
      })),
      allowedActions: TICKET_ACTIONS.filter(
        (a) =>
          roleAllows(principal.roles, LIFECYCLE[a].permission) && allowedFrom(a, row.state as TicketState),
      ),
    };
  }

  async list(principal: Principal, f: TicketListQuery): Promise<{ total: number; items: TicketView[] }> {
    requirePermission(principal, 'ticket:read');
    let q = this.scoped(principal);
    if (f.grid) {
      const node = { path: (await placeGridNode(this.db, f.grid)).gridPath };
      q = q.where(under('grid_nodes.path', node.path));
    }
    if (f.level) q = q.where('tickets.level', '=', f.level);
    if (f.state) q = q.where('tickets.state', '=', f.state);
    if (f.open !== undefined) q = q.where('tickets.state', f.open ? 'not in' : 'in', FINISHED_STATE_LIST);
    if (f.category) q = q.where('tickets.category', '=', f.category);
    if (f.device) q = q.where('tickets.device_id', '=', f.device);
    if (f.overdue !== undefined) {
      const now = this.p.now();
      q = f.overdue
        ? q.where('tickets.due_at', '<', now).where('tickets.state', 'not in', FINISHED_STATE_LIST)
        : q.where((eb) =>
            eb.or([eb('tickets.due_at', '>=', now), eb('tickets.state', 'in', FINISHED_STATE_LIST)]),
          );
    }
    const total = await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const rows = await q
      .selectAll('tickets')
      .orderBy('tickets.created_at', 'desc')
      .limit(f.limit)
      .offset(f.offset)
      .execute();
    return {
      total: Number(total.n),
      items: await nameTickets(
        this.db,
        rows.map((r) => this.view(r)),
      ),
    };
  }
}
