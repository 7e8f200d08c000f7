import type Type from 'typebox';
import type { TSchema } from 'typebox';
import { ELEVATOR_CODES, type ElevatorCodeRecord } from './elevator-codes.ts';
import {
  type DeviceType,
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

interface DeviceTypeRecord {
  /** the normalised event payload every model of the type produces */
  event: TSchema;
  /** the normalised telemetry payload */
  telemetry: TSchema;
  name: { zh: string; en: string };
  /** prefix of generated device ids (`sd-3f2a…`) */
  idPrefix: string;
  /** the Chinese alert title when a life-safety message of this type cannot write its ticket */
  alarmTitle: string;
  /** fault codes the type reports in `fault` events, with their severity (elevator monitors) */
  faultCodes?: Readonly<Record<string, ElevatorCodeRecord>>;
}

/**
 * The device types, once: each type's payload schemas (what rules and the time series read), names,
 * id prefix, and — for elevator monitors — the fault code table (contract/elevator-codes.ts). Models
 * (devices/models), the typed DeviceEvent, rules, the registry and alert texts read it; the types
 * EventBodies / TelemetryBodies are derived from it, never restated.
 */
export const DEVICE_TYPE_RECORDS = {
  'panic-button': {
    event: PanicEventSchema,
    telemetry: PanicTelemetrySchema,
    name: { zh: '一键报警按钮', en: 'panic button' },
    idPrefix: 'pb',
    alarmTitle: '一键报警',
  },
  'smoke-detector': {
    event: SmokeEventSchema,
    telemetry: SmokeTelemetrySchema,
    name: { zh: '烟感探测器', en: 'smoke detector' },
    idPrefix: 'sd',
    alarmTitle: '烟感报警',
  },
  'water-leak': {
    event: WaterLeakEventSchema,
    telemetry: WaterLeakTelemetrySchema,
    name: { zh: '水浸传感器', en: 'water-leak sensor' },
    idPrefix: 'wl',
    alarmTitle: '漏水报警',
  },
  'water-level': {
    event: WaterLevelEventSchema,
    telemetry: WaterLevelTelemetrySchema,
    name: { zh: '液位传感器', en: 'water-level sensor' },
    idPrefix: 'wv',
    alarmTitle: '水位报警',
  },
  'elevator-monitor': {
    event: ElevatorEventSchema,
    telemetry: ElevatorTelemetrySchema,
    name: { zh: '电梯监测终端', en: 'elevator monitor' },
    idPrefix: 'el',
    alarmTitle: '电梯紧急故障',
    faultCodes: ELEVATOR_CODES,
  },
} as const satisfies Record<DeviceType, DeviceTypeRecord>;

export type DeviceTypeSchemas = typeof DEVICE_TYPE_RECORDS;

/** Normalised event payload per device type (derived from the record, never restated). */
export type EventBodies = { [T in DeviceType]: Type.Static<DeviceTypeSchemas[T]['event']> };
/** Normalised telemetry payload per device type. */
export type TelemetryBodies = { [T in DeviceType]: Type.Static<DeviceTypeSchemas[T]['telemetry']> };
