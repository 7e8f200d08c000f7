import type { TSchema } from 'typebox';
import type { DeviceEvent, DeviceTelemetry } from '../../contract/device-event.ts';
import type { CommandType, DeviceType } from '../../contract/payloads.ts';
import type { ByteFrameSpec, JsonMapping } from './frame.ts';

/**
 * A supported device model is data (DESIGN.md contract 4): adding a vendor is adding a record.
 * `decodeEvent` / `decodeTelemetry` normalise vendor polarity and codes into the generic payload
 * of the device type, so rules never see vendor quirks. Generic models pass payloads through.
 */
export interface DeviceModel {
  id: string;
  type: DeviceType;
  vendor: string;
  name: { zh: string; en: string };
  /** schema of what this model puts on the event topic */
  eventSchema: TSchema;
  /** schema of what this model puts on the telemetry topic */
  telemetrySchema: TSchema;
  /** expected heartbeat (telemetry or status) interval, seconds */
  heartbeatIntervalS: number;
  /** extra silence tolerated after a missed heartbeat before the device counts as offline, seconds */
  offlineGraceS: number;
  /** mains-powered devices keep a session open; battery devices connect, report and sleep */
  power: 'mains' | 'battery';
  /** names of the rules that apply to this model by default */
  defaultRules: string[];
  /** more messages this model counts as life-safety than its device type does (see ingest/life-safety.ts) */
  lifeSafety?: (m: DeviceEvent | DeviceTelemetry) => boolean;
  /** commands the hub may send it on its `cmd` topic (TOPICS.command) */
  commands: readonly CommandType[];
  /** the settings a `configure` command may carry (JSON Schema of the settings object) */
  settingsSchema?: TSchema;
  /**
   * How a platform hands this model's messages over (issue 20): a binary frame (CTWing APPdata,
   * OneNET value, ChirpStack `data`) decoded by offsets, lengths, scales and code tables, and/or vendor
   * JSON (a ChirpStack codec's `object`, CTWing JSON payloads, OneNET data streams) renamed and mapped.
   * The result is the hub's payload for the model's schemas, then ingest as for MQTT.
   */
  frame?: ByteFrameSpec;
  jsonMapping?: JsonMapping;
  decodeEvent?: (raw: Record<string, unknown>) => Record<string, unknown>;
  decodeTelemetry?: (raw: Record<string, unknown>) => Record<string, unknown>;
}

/** Offline deadline of a model: heartbeat interval + grace. */
export function offlineAfterSeconds(model: DeviceModel): number {
  return model.heartbeatIntervalS + model.offlineGraceS;
}
