import {
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
} from '../../contract/payloads.ts';
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
    eventSchema: PanicEventSchema,
    telemetrySchema: PanicTelemetrySchema,
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
    eventSchema: SmokeEventSchema,
    telemetrySchema: SmokeTelemetrySchema,
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
    eventSchema: WaterLeakEventSchema,
    telemetrySchema: WaterLeakTelemetrySchema,
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
    eventSchema: WaterLevelEventSchema,
    telemetrySchema: WaterLevelTelemetrySchema,
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
    eventSchema: ElevatorEventSchema,
    telemetrySchema: ElevatorTelemetrySchema,
    heartbeatIntervalS: 60,
    offlineGraceS: 60,
    power: 'mains',
    defaultRules: ['elevator-fault', 'elevator-maintenance', 'presence'],
    commands: ['configure'],
    settingsSchema: elevatorSettings,
  },
];
