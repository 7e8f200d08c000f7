import type { Generated } from 'kysely';

/**
 * Row shapes of the alerts' own tables and of flow notifications (the store composes them in
 * store/tables.ts). Times are epoch ms, as everywhere in the store.
 */

export interface AlertTable {
  id: string;
  incident_key: string;
  severity: string;
  cause: string;
  title: string;
  title_code: string | null;
  title_params: string | null;
  device_id: string | null;
  device_type: string | null;
  site_id: string | null;
  grid_node_id: string;
  grid_path: string;
  emergency_unit_id: string | null;
  ticket_id: string | null;
  state: string;
  count: number;
  /** JSON array of person ids, in escalation order */
  chain: string;
  step: number;
  next_step_at: number | null;
  next_renotify_at: number | null;
  renotify_count: number;
  acked_by: string | null;
  acked_at: number | null;
  ack_channel: string | null;
  resolved_by: string | null;
  resolved_at: number | null;
  resolution: string | null;
  reason: string | null;
  created_at: number;
  updated_at: number;
}

export interface AlertDeliveryTable {
  id: Generated<number>;
  alert_id: string;
  step: number;
  recipient: string;
  channel: string;
  attempt: number;
  at: number;
  result: string;
  detail: string | null;
  /** when the recipient's client acknowledged (PUBACK) the message; null while only queued */
  confirmed_at: number | null;
  /** the MQTT message as sent (JSON), so it can be sent again when the person's app reconnects */
  payload: string | null;
}

export interface WebhookTargetTable {
  id: string;
  name: string;
  kind: string;
  url: string;
  secret: string | null;
  scope_kind: string;
  scope_id: string;
  min_severity: string;
  created_by: string;
  created_at: number;
}

export interface NotificationTable {
  id: string;
  actor: string;
  to_kind: string;
  to_id: string;
  title: string;
  text: string;
  created_at: number;
}

export interface NotificationDeliveryTable {
  id: Generated<number>;
  notification_id: string;
  recipient: string;
  channel: string;
  attempt: number;
  at: number;
  result: string;
  detail: string | null;
}

/** Which device event raised or repeated which alert (a replayed event does not raise it again). */
export interface AlertEventTable {
  event_ref: string;
  alert_id: string;
}
