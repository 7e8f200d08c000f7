import { DEVICE_TYPE_RECORDS as TYPES } from '../../contract/device-types.ts';
import type { DeviceType } from '../../contract/payloads.ts';
import { type AnyDeviceModel, type DeviceModel, defineModel } from './model.ts';
import { batterySettings, elevatorSettings, levelSettings } from './settings.ts';

const HOUR = 3600;

type GenericFields =
  | 'type'
  | 'vendor'
  | 'eventSchema'
  | 'telemetrySchema'
  | 'decodeEvent'
  | 'decodeTelemetry';

/** A generic model of a device type: its payloads are the type's own, passed through. */
function generic<T extends DeviceType>(type: T, model: Omit<DeviceModel<T>, GenericFields>): DeviceModel<T> {
  return defineModel<T>({
    ...model,
    type,
    vendor: 'generic',
    eventSchema: TYPES[type].event,
    telemetrySchema: TYPES[type].telemetry,
  } as DeviceModel<T>);
}

// Presence defaults from DOMAIN.md: battery / NB-IoT devices heartbeat every 12–24 h and count as
// offline after interval + grace (25 h for a 24 h heartbeat); mains devices keep-alive ≤ 60 s and
// are offline after two missed.
export const genericModels: AnyDeviceModel[] = [
  generic('panic-button', {
    id: 'generic-panic-button',
    name: { zh: '通用一键报警按钮', en: 'Generic panic button' },
    heartbeatIntervalSeconds: 12 * HOUR,
    offlineGraceSeconds: 1 * HOUR,
    power: 'battery',
    defaultRules: ['panic-press', 'device-health', 'presence'],
    commands: ['selftest', 'configure'],
    settingsSchema: batterySettings,
  }),
  generic('smoke-detector', {
    id: 'generic-nb-smoke',
    name: { zh: '通用NB-IoT独立式感烟火灾探测报警器', en: 'Generic NB-IoT smoke detector' },
    // GB 20517-2025: battery checked at least every 24 h, so at least a daily report.
    heartbeatIntervalSeconds: 24 * HOUR,
    offlineGraceSeconds: 1 * HOUR,
    power: 'battery',
    defaultRules: ['smoke-alarm', 'alert-restore', 'device-health', 'presence'],
    commands: ['silence', 'selftest', 'configure'],
    settingsSchema: batterySettings,
  }),
  generic('water-leak', {
    id: 'generic-water-leak',
    name: { zh: '通用水浸传感器', en: 'Generic water-leak sensor' },
    heartbeatIntervalSeconds: 24 * HOUR,
    offlineGraceSeconds: 1 * HOUR,
    power: 'battery',
    defaultRules: ['water-leak', 'alert-restore', 'device-health', 'presence'],
    commands: ['configure'],
    settingsSchema: batterySettings,
  }),
  generic('water-level', {
    id: 'generic-water-level',
    name: { zh: '通用液位传感器', en: 'Generic water-level sensor' },
    heartbeatIntervalSeconds: 1 * HOUR,
    offlineGraceSeconds: 1 * HOUR,
    power: 'battery',
    defaultRules: ['water-level', 'device-health', 'presence'],
    commands: ['configure'],
    settingsSchema: levelSettings,
  }),
  generic('elevator-monitor', {
    id: 'gbt24476-elevator',
    name: { zh: 'GB/T 24476 电梯物联网监测终端', en: 'GB/T 24476 elevator monitor' },
    heartbeatIntervalSeconds: 60,
    offlineGraceSeconds: 60,
    power: 'mains',
    defaultRules: ['elevator-fault', 'alert-restore', 'device-health', 'elevator-maintenance', 'presence'],
    commands: ['configure'],
    settingsSchema: elevatorSettings,
  }),
];
