import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { DeviceTelemetry } from '../../src/contract/device-event.ts';
import { telemetryLine } from '../../src/timeseries/points.ts';
import { Spool } from '../../src/timeseries/spool.ts';

const dir = mkdtempSync(join(tmpdir(), 'gridhub-spool-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

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

describe('spool', () => {
  it('keeps points in order, across reopening, and drops the oldest beyond its bound', () => {
    const file = join(dir, 's.sqlite');
    const spool = new Spool(file, 5);
    spool.open();
    expect(spool.append(['a', 'b', 'c'])).toBe(0);
    spool.close();
    const again = new Spool(file, 5);
    again.open();
    expect(again.peek(10).map((p) => p.line)).toEqual(['a', 'b', 'c']);
    expect(again.append(['d', 'e', 'f', 'g'])).toBe(2);
    const held = again.peek(10);
    expect(held.map((p) => p.line)).toEqual(['c', 'd', 'e', 'f', 'g']);
    again.remove(held.slice(0, 2).map((p) => p.id));
    expect(again.peek(10).map((p) => p.line)).toEqual(['e', 'f', 'g']);
    again.close();
  });
});
