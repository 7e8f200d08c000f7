import type { Generated } from 'kysely';

/** Row shapes of the tickets' own tables (the store composes them in store/tables.ts; times are epoch ms). */

export interface TicketTable {
  id: string;
  category: string;
  source: string;
  severity: string;
  level: number;
  state: string;
  title: string;
  /** hub/src/contract/titles.ts code; null for people's own titles and rows from before codes */
  title_code: string | null;
  /** JSON object of the title's parameters */
  title_params: string | null;
  description: string | null;
  grid_node_id: string;
  site_id: string | null;
  device_id: string | null;
  emergency_unit_id: string | null;
  incident_key: string | null;
  assignee_id: string | null;
  department_id: string | null;
  level_due_at: number | null;
  due_at: number | null;
  parked: number;
  extended: number;
  supervised: number;
  reminders: number;
  rework_count: number;
  recurring: number;
  occurrences: number;
  satisfaction: number | null;
  created_at: number;
  updated_at: number;
  accepted_at: number | null;
  dispatched_at: number | null;
  closed_at: number | null;
  resolution: string | null;
  /** the device event that opened the ticket (`deviceId:eventId`), so a replayed event finds it */
  origin_ref: string | null;
}

export interface TicketTimelineTable {
  seq: Generated<number>;
  ticket_id: string;
  at: number;
  actor: string;
  action: string;
  from_state: string | null;
  to_state: string | null;
  level: number;
  note: string | null;
  data: string | null;
}

export interface TicketLinkTable {
  ticket_id: string;
  kind: string;
  ref: string;
  at: number;
}
