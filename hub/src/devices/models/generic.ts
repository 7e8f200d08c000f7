import { DEVICE_TYPE_RECORDS as TYPES } from '../../contract/device-types.ts';
import type { DeviceModel } from './model.ts';
import { batterySettings, elevatorSettings, levelSettings } from './settings.ts';

const HOUR = 3600;

// Presence defaults from DOMAIN.md: battery / NB-IoT devices heartbeat every 12–24 h and count as
// offline after interval + grace (25 h for a 24 h heartbeat); mains devices keep-alive ≤ 60 s and
// are offline after two missed.
export const genericModels: DeviceModel[] = [
  {
    id: 'generic-panic-button',
    type: 'panic-button',
    vendor: 'generic',
    name: { zh: '通用一键报警按钮', en: 'Generic panic button' },
    eventSchema: TYPES['panic-button'].event,
    telemetrySchema: TYPES['panic-button'].telemetry,
    heartbeatIntervalS: 12 * HOUR,
    offlineGraceS: 1 * HOUR,
    power: 'battery',
    defaultRules: ['panic-press', 'device-health', 'presence'],
    commands: ['selftest', 'configure'],
    settingsSchema: batterySettings,
  },
  {
    id: 'generic-nb-smoke',
    type: 'smoke-detector',
    vendor: 'generic',
    name: { zh: '通用NB-IoT独立式感烟火灾探测报警器', en: 'Generic NB-IoT smoke detector' },
    eventSchema: TYPES['smoke-detector'].event,
    telemetrySchema: TYPES['smoke-detector'].telemetry,
    // GB 20517-2025: battery checked at least every 24 h, so at least a daily report.
    heartbeatIntervalS: 24 * HOUR,
    offlineGraceS: 1 * HOUR,
    power: 'battery',
    defaultRules: ['smoke-alarm', 'device-health', 'presence'],
    commands: ['silence', 'selftest', 'configure'],
    settingsSchema: batterySettings,
  },
  {
    id: 'generic-water-leak',
    type: 'water-leak',
    vendor: 'generic',
    name: { zh: '通用水浸传感器', en: 'Generic water-leak sensor' },
    eventSchema: TYPES['water-leak'].event,
    telemetrySchema: TYPES['water-leak'].telemetry,
    heartbeatIntervalS: 24 * HOUR,
    offlineGraceS: 1 * HOUR,
    power: 'battery',
    defaultRules: ['water-leak', 'device-health', 'presence'],
    commands: ['configure'],
    settingsSchema: batterySettings,
  },
  {
    id: 'generic-water-level',
    type: 'water-level',
    vendor: 'generic',
    name: { zh: '通用液位传感器', en: 'Generic water-level sensor' },
    eventSchema: TYPES['water-level'].event,
    telemetrySchema: TYPES['water-level'].telemetry,
    heartbeatIntervalS: 1 * HOUR,
    offlineGraceS: 1 * HOUR,
    power: 'battery',
    defaultRules: ['water-level', 'device-health', 'presence'],
    commands: ['configure'],
    settingsSchema: levelSettings,
  },
  {
    id: 'gbt24476-elevator',
    type: 'elevator-monitor',
    vendor: 'generic',
    name: { zh: 'GB/T 24476 电梯物联网监测终端', en: 'GB/T 24476 elevator monitor' },
    eventSchema: TYPES['elevator-monitor'].event,
    telemetrySchema: TYPES['elevator-monitor'].telemetry,
    heartbeatIntervalS: 60,
    offlineGraceS: 60,
    power: 'mains',
    defaultRules: ['elevator-fault', 'elevator-maintenance', 'presence'],
    commands: ['configure'],
    settingsSchema: elevatorSettings,
  },
];
