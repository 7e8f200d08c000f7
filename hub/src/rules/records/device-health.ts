import type { TitleCode } from '../../contract/titles.ts';
import { eventRef, placementOf, type Rule } from '../rule.ts';

type HealthTitle = Extract<TitleCode, `device.${string}`>;
const CAUSES: Record<string, { title: HealthTitle; severity: 'minor' | 'major' }> = {
  fault: { title: 'device.fault', severity: 'minor' },
  'battery.low': { title: 'device.battery-low', severity: 'minor' },
  tamper: { title: 'device.tamper', severity: 'major' },
  end_of_life: { title: 'device.end-of-life', severity: 'minor' },
  selftest: { title: 'device.selftest-failed', severity: 'minor' },
};
const RESTORES: Record<string, string> = { 'fault.clear': 'fault', 'tamper.restore': 'tamper' };

/**
 * Device health (smoke, water, panic): fault, low battery, tamper, end of life, failed self-test →
 * one maintenance ticket per device and cause for the property manager; repeats append; a restore
 * is noted on the ticket.
 */
export function deviceHealthRule(): Rule {
  return {
    name: 'device-health',
    description:
      'Fault, battery, tamper, end-of-life and failed self-test → one maintenance ticket per device and cause',
    on: 'device.event',
    deviceTypes: ['smoke-detector', 'water-leak', 'water-level', 'panic-button', 'elevator-monitor'],
    async handle(e, ctx) {
      const type = e.event.type;
      // Elevator faults have their own rule; an elevator's tamper is health like any other.
      if (e.deviceType === 'elevator-monitor' && type !== 'tamper' && type !== 'tamper.restore') return;
      if (type === 'selftest' && 'result' in e.event && e.event.result === 'ok') return;
      const restored = RESTORES[type];
      if (restored) {
        const open = await ctx.tickets.findOpen(`maint:${e.deviceId}:${restored}`);
        if (open)
          await ctx.tickets.note(open.id, 'rule:device-health', `${type} reported by the device`, {
            kind: 'event',
            ref: eventRef(e),
            at: e.at,
          });
        return;
      }
      const cause = CAUSES[type];
      if (!cause) return;
      await ctx.tickets.raise({
        category: 'maintenance',
        source: 'device-rule',
        severity: cause.severity,
        title: { code: cause.title },
        placement: placementOf(e),
        incidentKey: `maint:${e.deviceId}:${type}`,
        link: { kind: 'event', ref: eventRef(e), at: e.at },
        actor: 'rule:device-health',
      });
    },
  };
}
