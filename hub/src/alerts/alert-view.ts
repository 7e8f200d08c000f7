import type { Severity } from '../contract/severity.ts';
import type { AlertRow } from '../store/tables.ts';
import { titleView } from '../tickets/ticket-titles.ts';
import { isoTime as iso } from '../time.ts';
import type { AlertState, AlertView } from './alert-schemas.ts';

/** A stored (or held) alert as the API, the stream and MQTT show it. */
export function alertView(r: AlertRow): AlertView {
  return {
    id: r.id,
    severity: r.severity as Severity,
    cause: r.cause,
    title: r.title,
    ...titleView(r),
    deviceId: r.device_id,
    deviceType: r.device_type,
    siteId: r.site_id,
    gridNodeId: r.grid_node_id,
    emergencyUnitId: r.emergency_unit_id,
    ticketId: r.ticket_id,
    state: r.state as AlertState,
    count: r.count,
    chain: JSON.parse(r.chain) as string[],
    step: r.step,
    nextStepAt: iso(r.next_step_at),
    ackedBy: r.acked_by,
    ackedAt: iso(r.acked_at),
    ackChannel: r.ack_channel,
    resolvedBy: r.resolved_by,
    resolvedAt: iso(r.resolved_at),
    resolution: r.resolution,
    reason: r.reason,
    createdAt: iso(r.created_at) as string,
    updatedAt: iso(r.updated_at) as string,
  };
}
