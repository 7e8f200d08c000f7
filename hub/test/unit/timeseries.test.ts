import { describe, expect, it } from 'vitest';
import type { DeviceTelemetry } from '../../src/contract/device-event.ts';
import { telemetryLine } from '../../src/timeseries/points.ts';

describe('time-series points', () => {
  it('writes tags low-cardinality and values with their real types', () => {
    const t = {
      deviceId: 'el-1',
      modelId: 'gbt24476-elevator',
      deviceType: 'elevator-monitor',
      siteId: 'site-b1',
      gridNodeId: 'mg-1',
      gridPath: '/d/mg-1/',
      emergencyUnitId: 'eu-1',
      receivedAt: 1000,
      at: 900,
      values: {
        serviceMode: 1,
        moving: true,
        direction: 'up',
        floor: 3,
        doorZone: false,
        door: 'closed',
        occupied: true,
        speed: 1.5,
      },
    } as DeviceTelemetry;
    expect(telemetryLine(t)).toBe(
      'device_telemetry,device=el-1,grid=mg-1,model=gbt24476-elevator,site=site-b1,type=elevator-monitor,unit=eu-1 ' +
        'direction="up",door="closed",doorZone=F,floor=3i,moving=T,occupied=T,serviceMode=1i,speed=1.5 900',
    );
  });
});
