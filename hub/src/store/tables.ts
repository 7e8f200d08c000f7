import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

/**
 * Row shapes of the store as Kysely sees them. Times are ISO-8601 UTC strings (sortable as text);
 * lists are JSON text. Written for SQLite first, in column types PostgreSQL also has, so a second
 * dialect is a driver change rather than a rewrite.
 */
export interface GridNodeTable {
  id: string;
  parent_id: string | null;
  kind: string;
  exclusive_type: string | null;
  name: string;
  /** materialised path `/district/street/…/self/`, for subtree (jurisdiction) queries */
  path: string;
  created_at: string;
  updated_at: string;
}

export interface GridDutyTable {
  grid_node_id: string;
  role: string;
  person_id: string;
  position: number;
}

export interface DepartmentTable {
  id: string;
  district_id: string;
  kind: string;
  name: string;
  phone: string | null;
  contact_person_id: string | null;
  created_at: string;
  updated_at: string;
}

export interface PersonTable {
  id: string;
  name: string;
  phone: string | null;
  /** JSON array of Role */
  roles: string;
  scope_grid_node_id: string | null;
  /** JSON array of site ids (property managers) */
  scope_site_ids: string;
  password_hash: string | null;
  active: number;
  created_at: string;
  updated_at: string;
}

export interface ApiTokenTable {
  id: string;
  person_id: string;
  token_hash: string;
  label: string;
  created_at: string;
  revoked_at: string | null;
}

export interface SiteTable {
  id: string;
  grid_node_id: string;
  name: string;
  kind: string | null;
  building: string | null;
  unit: string | null;
  floor: string | null;
  room: string | null;
  address: string | null;
  lat: number | null;
  lng: number | null;
  created_at: string;
  updated_at: string;
}

export interface EmergencyUnitTable {
  id: string;
  name: string;
  kind: string;
  grid_node_id: string;
  leader_id: string;
  created_at: string;
  updated_at: string;
}

export interface EmergencyUnitMemberTable {
  unit_id: string;
  person_id: string;
  position: number;
}

export interface EmergencyUnitSiteTable {
  unit_id: string;
  site_id: string;
}

export interface DeviceTable {
  id: string;
  model_id: string;
  type: string;
  name: string | null;
  serial: string | null;
  site_id: string;
  grid_node_id: string;
  emergency_unit_id: string | null;
  status: string;
  secret_hash: string;
  secret_rotated_at: string;
  installed_by: string;
  installed_at: string;
  install_notes: string | null;
  install_photo_url: string | null;
  last_seen_at: string | null;
  online: number;
  created_at: string;
  updated_at: string;
  /** platform identities (issue 20): IMEI of an NB-IoT unit, the platform's device id, a LoRaWAN devEui */
  imei: string | null;
  platform_device_id: string | null;
  dev_eui: string | null;
}

export interface IntegrationTable {
  id: string;
  kind: string;
  name: string;
  /** JSON array of model ids */
  models: string;
  /** JSON object of settings that are not secret */
  settings: string;
  secrets_enc: string | null;
  token_hash: string | null;
  enabled: number;
  created_by: string;
  created_at: string;
  updated_at: string;
}

export interface IntegrationUnmatchedTable {
  integration_id: string;
  identity: string;
  identity_kind: string;
  first_at: string;
  last_at: string;
  count: number;
  excerpt: string;
}

export interface AuditLogTable {
  seq: Generated<number>;
  at: string;
  actor: string;
  action: string;
  entity_type: string;
  entity_id: string;
  data: string;
  prev_hash: string;
  hash: string;
}

export interface DeviceEventSeenTable {
  device_id: string;
  event_id: string;
  /** epoch ms */
  received_at: number;
}

export interface DeviceCommissioningTable {
  device_id: string;
  /** JSON array of CommissioningRecord, newest first */
  accepted: string;
  rejected: string;
  updated_at: string;
}

export interface PolicyTable {
  key: string;
  scope_kind: string;
  scope_id: string;
  /** JSON */
  value: string;
  updated_at: string;
  updated_by: string;
  expires_at: number | null;
  previous: string | null;
}

/** Times are epoch ms (due-time comparisons are on the hot path of the scheduler). */
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

export interface MaintenanceVisitTable {
  id: Generated<number>;
  device_id: string;
  at: number;
  by: string;
  notes: string | null;
  ticket_id: string | null;
}

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
  created_at: string;
}

export interface SettingTable {
  key: string;
  value: string;
}

export interface SessionTable {
  /** SHA-256 of the cookie value; the value itself is never stored */
  id_hash: string;
  person_id: string;
  csrf: string;
  created_at: number;
  expires_at: number;
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

/** One command to one device and how far it got (hub/src/commands). */
export interface DeviceCommandTable {
  id: string;
  device_id: string;
  type: string;
  settings: string | null;
  state: string;
  created_by: string;
  created_at: number;
  expires_at: number;
  sent_at: number | null;
  acknowledged_at: number | null;
  finished_at: number | null;
  /** the device's reason or the result it reported (JSON) */
  result: string | null;
  updated_at: number;
}

export interface Database {
  grid_nodes: GridNodeTable;
  grid_duty: GridDutyTable;
  departments: DepartmentTable;
  people: PersonTable;
  api_tokens: ApiTokenTable;
  sites: SiteTable;
  emergency_units: EmergencyUnitTable;
  emergency_unit_members: EmergencyUnitMemberTable;
  emergency_unit_sites: EmergencyUnitSiteTable;
  devices: DeviceTable;
  audit_log: AuditLogTable;
  device_events_seen: DeviceEventSeenTable;
  device_commissioning: DeviceCommissioningTable;
  policies: PolicyTable;
  tickets: TicketTable;
  ticket_timeline: TicketTimelineTable;
  ticket_links: TicketLinkTable;
  maintenance_visits: MaintenanceVisitTable;
  alerts: AlertTable;
  alert_events: AlertEventTable;
  alert_deliveries: AlertDeliveryTable;
  webhook_targets: WebhookTargetTable;
  settings: SettingTable;
  sessions: SessionTable;
  notifications: NotificationTable;
  notification_deliveries: NotificationDeliveryTable;
  device_commands: DeviceCommandTable;
  integrations: IntegrationTable;
  integration_unmatched: IntegrationUnmatchedTable;
}

export type IntegrationRow = Selectable<IntegrationTable>;
export type IntegrationUnmatchedRow = Selectable<IntegrationUnmatchedTable>;

export type DeviceCommandRow = Selectable<DeviceCommandTable>;

export type AlertRow = Selectable<AlertTable>;
export type WebhookTargetRow = Selectable<WebhookTargetTable>;

export type TicketRow = Selectable<TicketTable>;

export type GridNodeRow = Selectable<GridNodeTable>;
export type PersonRow = Selectable<PersonTable>;
export type SiteRow = Selectable<SiteTable>;
export type DeviceRow = Selectable<DeviceTable>;
export type NewDevice = Insertable<DeviceTable>;
export type DeviceUpdate = Updateable<DeviceTable>;
export type AuditRow = Selectable<AuditLogTable>;
