import { Point } from '@influxdata/influxdb-client';
import type {
  DeviceEvent,
  DevicePlacement,
  DeviceTelemetry,
  PresenceChange,
} from '../contract/device-event.ts';

/**
 * The measurement / tag / field layout (README "Time series"): tags are low-cardinality (device type,
 * model, grid, site, emergency unit) plus the device id; values are fields with their real types.
 */
function tagged(measurement: string, p: DevicePlacement & { deviceType: string }): Point {
  const point = new Point(measurement)
    .tag('device', p.deviceId)
    .tag('type', p.deviceType)
    .tag('model', p.modelId)
    .tag('grid', p.gridNodeId)
    .tag('site', p.siteId);
  if (p.emergencyUnitId) point.tag('unit', p.emergencyUnitId);
  return point;
}

function fields(point: Point, values: Record<string, unknown>): Point {
  for (const [k, v] of Object.entries(values)) {
    if (k === 'ts' || k === 'eventId' || k === 'type') continue;
    if (typeof v === 'boolean') point.booleanField(k, v);
    else if (typeof v === 'number') Number.isInteger(v) ? point.intField(k, v) : point.floatField(k, v);
    else if (typeof v === 'string') point.stringField(k, v);
  }
  return point;
}

/** The hub's own measures per grid node (open tickets by level, active alerts by severity). */
export function hubStatsLine(
  gridNodeId: string,
  values: Record<string, number>,
  at: number,
): string | undefined {
  const point = new Point('hub_stats').tag('grid', gridNodeId);
  for (const [k, v] of Object.entries(values)) point.intField(k, v);
  return point.timestamp(at).toLineProtocol();
}

/** Line protocol (ms precision) for a telemetry reading. */
export function telemetryLine(t: DeviceTelemetry): string | undefined {
  return fields(tagged('device_telemetry', t), t.values as Record<string, unknown>)
    .timestamp(t.at)
    .toLineProtocol();
}

export function eventLine(e: DeviceEvent): string | undefined {
  const point = tagged('device_event', e).tag('event', e.event.type).intField('count', 1);
  return fields(point, e.event as Record<string, unknown>)
    .timestamp(e.at)
    .toLineProtocol();
}

export function presenceLine(p: PresenceChange): string | undefined {
  return tagged('device_presence', p)
    .booleanField('online', p.online)
    .stringField('reason', p.reason)
    .timestamp(p.at)
    .toLineProtocol();
}
