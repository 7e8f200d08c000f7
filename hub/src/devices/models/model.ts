import type { TSchema } from 'typebox';
import type { DeviceEvent, DeviceTelemetry } from '../../contract/device-event.ts';
import type { DeviceTypeSchemas } from '../../contract/device-types.ts';
import type { CommandType, DeviceType } from '../../contract/payloads.ts';
import type { ByteFrameSpec, JsonMapping } from './frame.ts';

/**
 * What a model puts on a topic: the device type's own payload (passed through, so the schema must
 * be the type's — a smoke detector cannot carry a leak sensor's schema), or a vendor payload with
 * the decoder that normalises it into the type's (vendor polarity and codes, never in rules).
 */
type Wire<Normal extends TSchema, Decode extends 'decodeEvent' | 'decodeTelemetry', Schema extends string> =
  | ({ [K in Schema]: Normal } & { [K in Decode]?: undefined })
  | ({ [K in Schema]: TSchema } & {
      [K in Decode]: (raw: Record<string, unknown>) => Record<string, unknown>;
    });

interface ModelRecord<T extends DeviceType> {
  id: string;
  type: T;
  vendor: string;
  name: { zh: string; en: string };
  /** expected heartbeat (telemetry or status) interval, seconds */
  heartbeatIntervalSeconds: number;
  /** extra silence tolerated after a missed heartbeat before the device counts as offline, seconds */
  offlineGraceSeconds: number;
  /** mains-powered devices keep a session open; battery devices connect, report and sleep */
  power: 'mains' | 'battery';
  /** the rules this model's messages and presence run through (rules/records; the engine reads it) */
  defaultRules: readonly string[];
  /** more messages this model counts as life-safety than its device type does (see ingest/life-safety.ts) */
  lifeSafety?: (m: Extract<DeviceEvent | DeviceTelemetry, { deviceType: T }>) => boolean;
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
  /**
   * The frame (hex) a binary device takes for a command that reaches it through a platform (CTWing,
   * OneNET, ChirpStack downlink). A model with a `frame` takes over a platform only the commands
   * listed here; a model without one gets the hub's command JSON (TOPICS.command payload).
   */
  commandFrames?: Partial<Record<CommandType, string>>;
}

/**
 * A supported device model is data (DESIGN.md contract 4): adding a vendor is adding a record.
 * Generic over its device type, so the payload schemas, the decoders and the life-safety predicate
 * must fit the type it claims.
 */
export type DeviceModel<T extends DeviceType = DeviceType> = ModelRecord<T> &
  Wire<DeviceTypeSchemas[T]['event'], 'decodeEvent', 'eventSchema'> &
  Wire<DeviceTypeSchemas[T]['telemetry'], 'decodeTelemetry', 'telemetrySchema'>;

/** Any model of any type (the catalogue's list). */
export type AnyDeviceModel = { [T in DeviceType]: DeviceModel<T> }[DeviceType];

/** A model record, its device type inferred from `type`. */
export const defineModel = <T extends DeviceType>(model: DeviceModel<T>): DeviceModel<T> => model;

/** Offline deadline of a model: heartbeat interval + grace. */
export function offlineAfterSeconds(
  model: Pick<ModelRecord<DeviceType>, 'heartbeatIntervalSeconds' | 'offlineGraceSeconds'>,
): number {
  return model.heartbeatIntervalSeconds + model.offlineGraceSeconds;
}
