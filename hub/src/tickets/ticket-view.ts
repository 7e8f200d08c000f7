import type { TicketRow } from '../store/tables.ts';
import { isoTime as iso } from '../time.ts';
import { isOpen, type TicketState } from './lifecycle.ts';
import type { Severity, TicketCategory, TicketView } from './ticket-schemas.ts';
import { titleView } from './ticket-titles.ts';

/** A stored ticket as the API, the bus and MQTT show it (`overdue` against `now`). */
export function ticketView(row: TicketRow, now: number): TicketView {
  return {
    id: row.id,
    category: row.category as TicketCategory,
    source: row.source as TicketView['source'],
    severity: row.severity as Severity,
    level: row.level,
    state: row.state as TicketState,
    title: row.title,
    ...titleView(row),
    description: row.description,
    gridNodeId: row.grid_node_id,
    siteId: row.site_id,
    deviceId: row.device_id,
    emergencyUnitId: row.emergency_unit_id,
    assigneeId: row.assignee_id,
    departmentId: row.department_id,
    levelDueAt: iso(row.level_due_at),
    overdue: isOpen(row.state as TicketState) && row.due_at != null && row.due_at < now,
    parked: row.parked === 1,
    extended: row.extended === 1,
    supervised: row.supervised === 1,
    reminders: row.reminders,
    reworkCount: row.rework_count,
    recurring: row.recurring === 1,
    occurrences: row.occurrences,
    satisfaction: row.satisfaction,
    resolution: row.resolution,
    createdAt: iso(row.created_at) as string,
    updatedAt: iso(row.updated_at) as string,
    closedAt: iso(row.closed_at),
  };
}
