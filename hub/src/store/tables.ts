import type { Generated, Insertable, Selectable, Updateable } from 'kysely';
import type {
  AlertDeliveryTable,
  AlertEventTable,
  AlertTable,
  NotificationDeliveryTable,
  NotificationTable,
  WebhookTargetTable,
} from '../alerts/alert-tables.ts';
import type { DeviceCommandTable } from '../commands/command-tables.ts';
import type { MaintenanceVisitTable } from '../elevators/maintenance-tables.ts';
import type { TicketLinkTable, TicketTable, TicketTimelineTable } from '../tickets/ticket-tables.ts';

/**
 * Row shapes of the store as Kysely sees them; each service declares its own tables beside it
 * (tickets/ticket-tables.ts, alerts/alert-tables.ts, commands/command-tables.ts,
 * elevators/maintenance-tables.ts) and this file composes them into the one Database. Lists are JSON
 * text. Written for SQLite first, in column types PostgreSQL also has, so a second dialect is a
 * driver change rather than a rewrite.
 *
 * Times, one convention: every time in the store is epoch milliseconds (UTC) in an INTEGER column
 * (PostgreSQL: bigint), named `…_at` or `at`. API views and CSV files show ISO-8601 text through
 * isoTime(); the store boundary converts, nothing stored keeps ISO text (the commissioning
 * records' JSON too; only audit `data`, hashed as written, is never rewritten). The first tables kept ISO
 * text until migration 0011_times_epoch_ms converted them; the audit chain still hashes the ISO
 * rendering of `at` (audit/audit-log.ts). hub/test/integration/store-times.test.ts introspects a
 * migrated store on both dialects and fails on a time-named column of any other type.
 */
export interface GridNodeTable {
  id: string;
  parent_id: string | null;
  kind: string;
  exclusive_type: string | null;
  name: string;
  /** materialised path `/district/street/…/self/`, for subtree (jurisdiction) queries */
  path: string;
  created_at: number;
  updated_at: number;
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
  created_at: number;
  updated_at: number;
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
  created_at: number;
  updated_at: number;
}

export interface ApiTokenTable {
  id: string;
  person_id: string;
  token_hash: string;
  label: string;
  created_at: number;
  revoked_at: number | null;
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
  created_at: number;
  updated_at: number;
}

export interface EmergencyUnitTable {
  id: string;
  name: string;
  kind: string;
  grid_node_id: string;
  leader_id: string;
  created_at: number;
  updated_at: number;
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
  secret_rotated_at: number;
  installed_by: string;
  installed_at: number;
  install_notes: string | null;
  install_photo_url: string | null;
  last_seen_at: number | null;
  online: number;
  created_at: number;
  updated_at: number;
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
  created_at: number;
  updated_at: number;
}

export interface IntegrationUnmatchedTable {
  integration_id: string;
  identity: string;
  identity_kind: string;
  first_at: number;
  last_at: number;
  count: number;
  excerpt: string;
}

export interface AuditLogTable {
  seq: Generated<number>;
  at: number;
  actor: string;
  action: string;
  entity_type: string;
  entity_id: string;
  data: string;
  prev_hash: string;
  hash: string;
  /** the ISO text the hash covers, only where `at` (ms) does not render back to it (migration 0011) */
  at_as_hashed: string | null;
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
  updated_at: number;
}

export interface PolicyTable {
  key: string;
  scope_kind: string;
  scope_id: string;
  /** JSON */
  value: string;
  updated_at: number;
  updated_by: string;
  expires_at: number | null;
  previous: string | null;
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

/** Cluster-wide dedupe of device events at processing time (cluster/event-claims.ts). */
export interface EventClaimTable {
  device_id: string;
  event_id: string;
  holder: string;
  lease_until: number;
  claimed_at: number;
  done_at: number | null;
}

/** Pending webhook and chat-robot deliveries, claimed with a lease (alerts/webhook-outbox.ts). */
export interface WebhookOutboxTable {
  id: string;
  target_id: string;
  /** the AlertMessage, JSON */
  message: string;
  /** whose delivery log the attempts go to (alert or notification), JSON */
  origin: string;
  attempts: number;
  state: string;
  due_at: number;
  holder: string | null;
  lease_until: number | null;
  created_at: number;
}

/** Named leases: one holder at a time, until it stops renewing (cluster/leases.ts). */
export interface ClusterLeaseTable {
  name: string;
  holder: string;
  lease_until: number;
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
  event_claims: EventClaimTable;
  webhook_outbox: WebhookOutboxTable;
  cluster_leases: ClusterLeaseTable;
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
