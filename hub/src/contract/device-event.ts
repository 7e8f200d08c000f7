import Type from 'typebox';
import type { EventBodies, TelemetryBodies } from './device-types.ts';
import { type DeviceType, DeviceTypeSchema } from './payloads.ts';

export type { EventBodies, TelemetryBodies };

/** Where a device is: everything rules and routing need without a store lookup. */
export const DevicePlacementSchema = Type.Object({
  deviceId: Type.String(),
  modelId: Type.String(),
  siteId: Type.String(),
  gridNodeId: Type.String(),
  gridPath: Type.String({ description: 'materialised grid path, e.g. /d-qinghe/s-dongyuan/…/' }),
  emergencyUnitId: Type.Union([Type.String(), Type.Null()]),
});
export type DevicePlacement = Type.Static<typeof DevicePlacementSchema>;

/** A `devices` row joined with its grid node's path: what a device's placement is read from. */
export interface DevicePlacementRow {
  id: string;
  model_id: string;
  type: string;
  site_id: string;
  grid_node_id: string;
  emergency_unit_id: string | null;
  path: string;
}

/** The one mapper from a device row to its placement and type. */
export function devicePlacement(r: DevicePlacementRow): DevicePlacement & { deviceType: DeviceType } {
  return {
    deviceId: r.id,
    modelId: r.model_id,
    deviceType: r.type as DeviceType,
    siteId: r.site_id,
    gridNodeId: r.grid_node_id,
    gridPath: r.path,
    emergencyUnitId: r.emergency_unit_id,
  };
}

interface Envelope extends DevicePlacement {
  /** hub receive time, epoch ms */
  receivedAt: number;
  /** device time when it sent one, else the receive time */
  at: number;
}

/** A typed, validated, normalised device event: rules switch on `deviceType`, then `event.type`. */
export type DeviceEvent = {
  [T in DeviceType]: Envelope & { deviceType: T; event: EventBodies[T] };
}[DeviceType];
export type DeviceTelemetry = {
  [T in DeviceType]: Envelope & { deviceType: T; values: TelemetryBodies[T] };
}[DeviceType];

/** A device went online or offline; also the staff message on `gh/v1/hub/presence/…`. */
export const PresenceChangeSchema = Type.Object(
  {
    ...DevicePlacementSchema.properties,
    deviceType: DeviceTypeSchema,
    online: Type.Boolean(),
    at: Type.Number({ description: 'epoch ms' }),
    reason: Type.Enum(['connect', 'message', 'will', 'deadline', 'decommissioned'], {
      description: 'what told the hub: a connection or message, the last will, or silence past the deadline',
    }),
  },
  { title: 'PresenceChange' },
);
export type PresenceChange = Type.Static<typeof PresenceChangeSchema>;

/**
 * A DeviceEvent as staff clients receive it on `gh/v1/hub/event/…`: the envelope, and the event as
 * the device's model normalised it (its schema is the model's: `GET /api/v1/device-models`).
 */
export const DeviceEventMessageSchema = Type.Object(
  {
    ...DevicePlacementSchema.properties,
    deviceType: DeviceTypeSchema,
    receivedAt: Type.Number({ description: 'hub receive time, epoch ms' }),
    at: Type.Number({ description: 'device time when it sent one, else the receive time' }),
    event: Type.Object(
      { type: Type.String(), eventId: Type.String() },
      { additionalProperties: true, description: 'the normalised event, per its model’s event schema' },
    ),
  },
  { title: 'DeviceEvent' },
);
