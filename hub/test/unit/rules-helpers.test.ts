import { describe, expect, it } from 'vitest';
import { Dwell, holds, SlidingWindow, severityByDuration } from '../../src/rules/helpers.ts';
import {
  allowedFrom,
  LIFECYCLE,
  stateAfterEscalation,
  TICKET_ACTIONS,
  type TICKET_STATES,
} from '../../src/tickets/lifecycle.ts';

describe('rule helpers', () => {
  it('counts hits within a sliding window', () => {
    const w = new SlidingWindow<string>();
    expect(w.add('el-1', 0, 1000)).toBe(1);
    expect(w.add('el-1', 500, 1000)).toBe(2);
    expect(w.add('el-1', 1400, 1000)).toBe(2); // the hit at 0 fell out
    expect(w.add('el-2', 1400, 1000)).toBe(1);
  });

  it('measures how long a condition has held, -1 when it does not', () => {
    const d = new Dwell<string>();
    expect(d.update('x', true, 100)).toBe(0);
    expect(d.update('x', true, 350)).toBe(250);
    expect(d.update('x', false, 400)).toBe(-1);
    expect(d.update('x', true, 500)).toBe(0);
  });

  it('evaluates OR across different fields and nested AND', () => {
    const flood = {
      any: [
        { field: 'level', op: '>=', value: 25 },
        { field: 'rise', op: '>=', value: 10 },
      ],
    } as const;
    expect(holds(flood, { level: 30, rise: 0 })).toBe(true);
    expect(holds(flood, { level: 5, rise: 12 })).toBe(true);
    expect(holds(flood, { level: 5, rise: 2 })).toBe(false);
    expect(holds(flood, { rise: 2 })).toBe(false);
    const stuck = {
      all: [
        { field: 'occupied', op: '==', value: true },
        {
          any: [
            { field: 'doorZone', op: '==', value: false },
            { field: 'serviceMode', op: '==', value: 0 },
          ],
        },
      ],
    } as const;
    expect(holds(stuck, { occupied: true, doorZone: false, serviceMode: 1 })).toBe(true);
    expect(holds(stuck, { occupied: true, doorZone: true, serviceMode: 0 })).toBe(true);
    expect(holds(stuck, { occupied: false, doorZone: false, serviceMode: 0 })).toBe(false);
  });

  it('raises severity with duration', () => {
    const steps = [
      { afterMs: 0, severity: 'warning' as const },
      { afterMs: 60_000, severity: 'critical' as const },
    ];
    expect(severityByDuration(-1, steps)).toBeUndefined();
    expect(severityByDuration(10, steps)).toBe('warning');
    expect(severityByDuration(60_000, steps)).toBe('critical');
  });
});

describe('ticket lifecycle', () => {
  it('follows the DOMAIN.md path and its loops', () => {
    const path: [string, string][] = [];
    let state: (typeof TICKET_STATES)[number] = 'reported';
    for (const action of [
      'accept',
      'dispatch',
      'sign',
      'start',
      'report-back',
      'verify',
      'rework',
      'report-back',
      'verify',
      'close',
      'rate',
    ] as const) {
      expect(allowedFrom(action, state), `${action} from ${state}`).toBe(true);
      state = LIFECYCLE[action].to ?? state;
      path.push([action, state]);
    }
    expect(state).toBe('evaluated');
    expect(allowedFrom('return', 'dispatched') && LIFECYCLE.return.to).toBe('accepted');
  });

  it('refuses actions from states where they make no sense', () => {
    expect(allowedFrom('close', 'reported')).toBe(false);
    expect(allowedFrom('rate', 'verifying')).toBe(false);
    expect(allowedFrom('escalate', 'closed')).toBe(false);
    expect(allowedFrom('note', 'evaluated')).toBe(true);
    for (const a of TICKET_ACTIONS) expect(LIFECYCLE[a].permission).toMatch(/^ticket:/);
  });

  it('makes the new level sign for work already under way', () => {
    expect(stateAfterEscalation('in_progress')).toBe('dispatched');
    expect(stateAfterEscalation('reported')).toBe('reported');
  });
});
