import type Type from 'typebox';
import type {
  DeviceType,
  ElevatorEventSchema,
  ElevatorTelemetrySchema,
  PanicEventSchema,
  PanicTelemetrySchema,
  SmokeEventSchema,
  SmokeTelemetrySchema,
  WaterLeakEventSchema,
  WaterLeakTelemetrySchema,
  WaterLevelEventSchema,
  WaterLevelTelemetrySchema,
} from './payloads.ts';

/** Normalised event payload per device type (derived from the payload schemas, never restated). */
export interface EventBodies {
  'panic-button': Type.Static<typeof PanicEventSchema>;
  'smoke-detector': Type.Static<typeof SmokeEventSchema>;
  'water-leak': Type.Static<typeof WaterLeakEventSchema>;
  'water-level': Type.Static<typeof WaterLevelEventSchema>;
  'elevator-monitor': Type.Static<typeof ElevatorEventSchema>;
}

export interface TelemetryBodies {
  'panic-button': Type.Static<typeof PanicTelemetrySchema>;
  'smoke-detector': Type.Static<typeof SmokeTelemetrySchema>;
  'water-leak': Type.Static<typeof WaterLeakTelemetrySchema>;
  'water-level': Type.Static<typeof WaterLevelTelemetrySchema>;
  'elevator-monitor': Type.Static<typeof ElevatorTelemetrySchema>;
}

/** Where a device is: everything rules and routing need without a store lookup. */
export interface DevicePlacement {
  deviceId: string;
  modelId: string;
  siteId: string;
  gridNodeId: string;
  gridPath: string;
  emergencyUnitId: string | null;
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

export interface PresenceChange extends DevicePlacement {
  deviceType: DeviceType;
  online: boolean;
  at: number;
  /** what told the hub: a connection or message, the last will, or silence past the deadline */
  reason: 'connect' | 'message' | 'will' | 'deadline' | 'decommissioned';
}
