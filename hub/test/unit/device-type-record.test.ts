/**
 * One record per fact (issue 17): the elevator fault codes are a single table
 * (hub/src/contract/elevator-codes.ts, after GB/T 24476-2023), and every consumer's list is read
 * here from that consumer and compared with the record — the event schema the broker validates
 * with, the life-safety lane and the elevator rule's severity, the health score's out-of-service
 * set and fault points, the console's names, and the Node-RED nodes' generated contract. Adding a
 * code is an edit of the record; a consumer that kept its own list fails this test.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { makeI18n } from '../../../dashboards/src/i18n.ts';
import type { DeviceEvent } from '../../src/contract/device-event.ts';
import { DEVICE_TYPE_RECORDS } from '../../src/contract/device-types.ts';
import {
  ELEVATOR_CODE_LIST,
  ELEVATOR_CODES,
  ELEVATOR_FAULT_CODES,
  elevatorFaultSeverity,
} from '../../src/contract/elevator-codes.ts';
import { DEVICE_TYPES, ElevatorEventSchema } from '../../src/contract/payloads.ts';
import { SEVERITY_RANK } from '../../src/contract/severity.ts';
import { ModelCatalogue } from '../../src/devices/models/index.ts';
import { lifeSafetyClassifier } from '../../src/ingest/life-safety.ts';
import { FAULT_POINTS, faultsComponent, OUT_OF_SERVICE } from '../../src/timeseries/elevator-health.ts';

const require = createRequire(import.meta.url);
const nodeRed = require('../../../flows/nodes/lib/hub-client.js') as {
  contract: { elevatorCodes: Record<string, unknown>; severityRank: Record<string, number> };
  eventSeverity(e: unknown): string;
};

const codes = ELEVATOR_CODE_LIST.map((c) => c.code);

function fault(code: string, occupied: boolean): DeviceEvent {
  return {
    deviceId: 'el-1',
    modelId: 'gbt24476-elevator',
    siteId: 's',
    gridNodeId: 'g',
    gridPath: '/d/g/',
    emergencyUnitId: null,
    receivedAt: 0,
    at: 0,
    deviceType: 'elevator-monitor',
    event: { eventId: `e-${code}`, type: 'fault', code, occupied } as never,
  };
}

describe('the elevator code record', () => {
  it('is the enum of the event schema devices are validated against', () => {
    const member = (
      ElevatorEventSchema.anyOf as { properties: Record<string, { const?: string; enum?: string[] }> }[]
    ).find((m) => m.properties.type?.const === 'fault');
    expect(member?.properties.code?.enum).toEqual(codes);
    expect(ELEVATOR_FAULT_CODES).toEqual(codes);
    expect(DEVICE_TYPE_RECORDS['elevator-monitor'].faultCodes).toBe(ELEVATOR_CODES);
  });

  it('decides the life-safety lane and the rule severity, with and without a passenger', () => {
    const classify = lifeSafetyClassifier(new ModelCatalogue(), <T>() => 0 as T);
    for (const c of ELEVATOR_CODE_LIST)
      for (const occupied of [false, true]) {
        const severity = occupied && 'whenOccupied' in c ? c.whenOccupied : c.severity;
        expect(elevatorFaultSeverity(c.code, occupied), `${c.code} occupied=${occupied}`).toBe(severity);
        expect(classify(fault(c.code, occupied)), `${c.code} occupied=${occupied}`).toBe(
          severity === 'critical',
        );
      }
    // positive control: the lane does take some codes and leaves others
    expect(classify(fault('11', false))).toBe(true);
    expect(classify(fault('02', true))).toBe(false);
  });

  it('is what the health score weighs: out-of-service codes and points by severity', () => {
    expect([...OUT_OF_SERVICE].sort()).toEqual(
      ELEVATOR_CODE_LIST.filter((c) => c.stopsCar)
        .map((c) => c.code)
        .sort(),
    );
    for (const c of ELEVATOR_CODE_LIST)
      expect(faultsComponent({ [c.code]: 1 }, 1), c.code).toBe(100 - FAULT_POINTS[c.severity].points);
  });

  it('names every code in both of the console’s languages', () => {
    const zh = makeI18n('zh-CN');
    const en = makeI18n('en');
    for (const c of ELEVATOR_CODE_LIST) {
      expect(zh.elevatorCode(c.code)).toContain(c.zh);
      expect(en.elevatorCode(c.code)).toContain(c.en);
    }
  });

  it('reaches the Node-RED nodes through their generated contract', () => {
    expect(nodeRed.contract.severityRank).toEqual(SEVERITY_RANK);
    expect(Object.keys(nodeRed.contract.elevatorCodes).sort()).toEqual([...codes].sort());
    for (const c of ELEVATOR_CODE_LIST) {
      expect(nodeRed.contract.elevatorCodes[c.code]).toMatchObject({ severity: c.severity, zh: c.zh });
      for (const occupied of [false, true])
        expect(nodeRed.eventSeverity(fault(c.code, occupied)), c.code).toBe(
          elevatorFaultSeverity(c.code, occupied),
        );
    }
  });

  it('is keyed like the device types, each with its schemas', () => {
    expect(Object.keys(DEVICE_TYPE_RECORDS).sort()).toEqual([...DEVICE_TYPES].sort());
    for (const t of DEVICE_TYPES) {
      expect(DEVICE_TYPE_RECORDS[t].event).toBeDefined();
      expect(DEVICE_TYPE_RECORDS[t].telemetry).toBeDefined();
    }
  });
});
