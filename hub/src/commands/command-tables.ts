/** Row shapes of device commands (the store composes them in store/tables.ts; times are epoch ms). */

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
  /** the integration whose platform carries it (CTWing, OneNET, ChirpStack); null: the hub's broker */
  via_integration: string | null;
  /** the platform's id of the command, once the platform took it */
  platform_command_id: string | null;
}
