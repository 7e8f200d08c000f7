import { DEVICE_TYPE_RECORDS as TYPES } from '../../contract/device-types.ts';
import { type AnyDeviceModel, defineModel } from './model.ts';
import { batterySettings, elevatorSettings, levelSettings } from './settings.ts';

const HOUR = 3600;

// Presence defaults from DOMAIN.md: battery / NB-IoT devices heartbeat every 12–24 h and count as
// offline after interval + grace (25 h for a 24 h heartbeat); mains devices keep-alive ≤ 60 s and
// are offline after two missed.
export const genericModels: AnyDeviceModel[] = [
  defineModel({
    id: 'generic-panic-button',
    type: 'panic-button',
    vendor: 'generic',
    name: { zh: '通用一键报警按钮', en: 'Generic panic button' },
    eventSchema: TYPES['panic-button'].event,
    telemetrySchema: TYPES['panic-button'].telemetry,
    heartbeatIntervalSeconds: 12 * HOUR,
    offlineGraceSeconds: 1 * HOUR,
    power: 'battery',
    defaultRules: ['panic-press', 'device-health', 'presence'],
    commands: ['selftest', 'configure'],
    settingsSchema: batterySettings,
  }),
  defineModel({
    id: 'generic-nb-smoke',
    type: 'smoke-detector',
    vendor: 'generic',
    name: { zh: '通用NB-IoT独立式感烟火灾探测报警器', en: 'Generic NB-IoT smoke detector' },
    eventSchema: TYPES['smoke-detector'].event,
    telemetrySchema: TYPES['smoke-detector'].telemetry,
    // GB 20517-2025: battery checked at least every 24 h, so at least a daily report.
    heartbeatIntervalSeconds: 24 * HOUR,
    offlineGraceSeconds: 1 * HOUR,
    power: 'battery',
    defaultRules: ['smoke-alarm', 'alert-restore', 'device-health', 'presence'],
    commands: ['silence', 'selftest', 'configure'],
    settingsSchema: batterySettings,
  }),
  defineModel({
    id: 'generic-water-leak',
    type: 'water-leak',
    vendor: 'generic',
    name: { zh: '通用水浸传感器', en: 'Generic water-leak sensor' },
    eventSchema: TYPES['water-leak'].event,
    telemetrySchema: TYPES['water-leak'].telemetry,
    heartbeatIntervalSeconds: 24 * HOUR,
    offlineGraceSeconds: 1 * HOUR,
    power: 'battery',
    defaultRules: ['water-leak', 'alert-restore', 'device-health', 'presence'],
    commands: ['configure'],
    settingsSchema: batterySettings,
  }),
  defineModel({
    id: 'generic-water-level',
    type: 'water-level',
    vendor: 'generic',
    name: { zh: '通用液位传感器', en: 'Generic water-level sensor' },
    eventSchema: TYPES['water-level'].event,
    telemetrySchema: TYPES['water-level'].telemetry,
    heartbeatIntervalSeconds: 1 * HOUR,
    offlineGraceSeconds: 1 * HOUR,
    power: 'battery',
    defaultRules: ['water-level', 'device-health', 'presence'],
    commands: ['configure'],
    settingsSchema: levelSettings,
  }),
  defineModel({
    id: 'gbt24476-elevator',
    type: 'elevator-monitor',
    vendor: 'generic',
    name: { zh: 'GB/T 24476 电梯物联网监测终端', en: 'GB/T 24476 elevator monitor' },
    eventSchema: TYPES['elevator-monitor'].event,
    telemetrySchema: TYPES['elevator-monitor'].telemetry,
    heartbeatIntervalSeconds: 60,
    offlineGraceSeconds: 60,
    power: 'mains',
    defaultRules: ['elevator-fault', 'alert-restore', 'device-health', 'elevator-maintenance', 'presence'],
    commands: ['configure'],
    settingsSchema: elevatorSettings,
  }),
];
