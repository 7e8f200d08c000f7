import { elevatorFaultSeverity } from '../../contract/elevator-codes.ts';
import type { TicketCategory } from '../../tickets/ticket-schemas.ts';
import { ticketTitle } from '../../tickets/ticket-titles.ts';
import { SlidingWindow } from '../helpers.ts';
import { eventRef, placementOf, policyAt, type Rule } from '../rule.ts';

/**
 * Elevator faults: entrapment (11) → rescue ticket with the arrival deadline; other critical codes →
 * critical ticket and alert; major → fault ticket; minor → maintenance ticket. N faults within the
 * window → one recurring-fault ticket.
 */
export function elevatorFaultRule(): Rule {
  const faults = new SlidingWindow<string>();
  return {
    name: 'elevator-fault',
    description:
      'Elevator fault codes (GB/T 24476) → rescue / critical / maintenance tickets; repeated faults → recurring-fault ticket',
    on: 'device.event',
    deviceTypes: ['elevator-monitor'],
    async handle(e, ctx) {
      if (e.deviceType !== 'elevator-monitor') return;
      const ev = e.event;
      if (ev.type !== 'fault' && ev.type !== 'fault.clear') return;
      const at = policyAt(e);
      const incident = ev.code === '11' ? `rescue:${e.deviceId}` : `elevator:${e.deviceId}:${ev.code}`;
      if (ev.type === 'fault.clear') {
        const open =
          (await ctx.tickets.findOpen(incident)) ??
          (await ctx.tickets.findOpen(`maint:${e.deviceId}:fault-${ev.code}`));
        if (open) {
          const note =
            ev.code === '11'
              ? '困人状态解除（设备上报）; responders still confirm the rescue'
              : `fault ${ev.code} cleared at the device`;
          await ctx.tickets.note(open.id, 'rule:elevator-fault', note, {
            kind: 'event',
            ref: eventRef(e),
            at: e.at,
          });
        }
        return;
      }
      const severity = elevatorFaultSeverity(ev.code, ev.occupied) ?? 'minor';
      const category: TicketCategory =
        ev.code === '11' ? 'elevator-rescue' : severity === 'minor' ? 'maintenance' : 'elevator-fault';
      const { ticket } = await ctx.tickets.raise({
        category,
        source: 'device-rule',
        severity,
        title:
          ev.code === '11'
            ? { code: 'elevator.rescue', params: ev.floor === undefined ? {} : { floor: ev.floor } }
            : {
                code: 'elevator.fault',
                params: { code: ev.code, ...(ev.floor === undefined ? {} : { floor: ev.floor }) },
              },
        placement: placementOf(e),
        incidentKey: category === 'maintenance' ? `maint:${e.deviceId}:fault-${ev.code}` : incident,
        link: { kind: 'event', ref: eventRef(e), at: e.at },
        actor: 'rule:elevator-fault',
      });
      // Every critical fault asks for an alert, not only the one that opened the ticket: the alert
      // service counts it on the active alert and raises a new one once the last was resolved (a
      // second entrapment while the rescue ticket is still open pages people again).
      if (severity === 'critical') {
        ctx.requestAlert({
          ...e,
          severity: 'critical',
          cause: ev.code === '11' ? 'elevator-entrapment' : `elevator-fault-${ev.code}`,
          ...ticketTitle(ticket),
          ticketId: ticket.id,
          eventRef: eventRef(e),
        });
      }
      const windowMs = ctx.policy('elevator.recurring.windowHours', at) * 3600_000;
      const count = faults.add(e.deviceId, e.at, windowMs);
      if (count >= ctx.policy('elevator.recurring.count', at)) {
        await ctx.tickets.raise({
          category: 'recurring-fault',
          source: 'device-rule',
          severity: 'major',
          title: { code: 'elevator.recurring', params: { count, hours: windowMs / 3600_000 } },
          placement: placementOf(e),
          incidentKey: `recurring:${e.deviceId}`,
          link: { kind: 'event', ref: eventRef(e), at: e.at },
          actor: 'rule:elevator-fault',
        });
      }
    },
  };
}

/**
 * Maintenance overdue: an elevator with no maintenance visit (recorded through the API, or by closing a
 * maintenance ticket) within the interval (TSG T5002: 15 days) gets a maintenance ticket.
 */
export function elevatorMaintenanceRule(checkEveryMs: number): Rule {
  return {
    name: 'elevator-maintenance',
    description: 'No maintenance visit within the interval (15 days) → maintenance ticket',
    on: 'tick',
    everyMs: () => checkEveryMs,
    async handle(ctx) {
      const now = ctx.now();
      for (const e of await ctx.elevatorVisits()) {
        const placement = { ...e, deviceType: 'elevator-monitor' };
        const intervalMs = ctx.policy('elevator.maintenance.intervalDays', policyAt(placement)) * 86_400_000;
        const last = e.lastVisitAt;
        if (now - last <= intervalMs) continue;
        if (await ctx.tickets.findOpen(`maint-overdue:${e.deviceId}`)) continue;
        await ctx.tickets.raise({
          category: 'maintenance',
          source: 'device-rule',
          severity: 'minor',
          title: {
            code: 'elevator.maintenance-overdue',
            params: { last: new Date(last).toISOString().slice(0, 10) },
          },
          placement: placementOf(placement),
          incidentKey: `maint-overdue:${e.deviceId}`,
          actor: 'rule:elevator-maintenance',
        });
      }
    },
  };
}
