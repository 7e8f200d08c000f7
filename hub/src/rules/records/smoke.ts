import { ticketTitle } from '../../tickets/ticket-titles.ts';
import { eventRef, placementOf, policyAt, type Rule } from '../rule.ts';

/**
 * Smoke alarm → fire ticket for the building. Two or more detectors of one building alarming within
 * the window confirm the fire: severity critical, straight to the district's fire department. The
 * count is taken from the ticket's own links, so it survives a restart. A clear before confirmation
 * is noted; staff still verify on site.
 */
export function smokeAlarmRule(): Rule {
  return {
    name: 'smoke-alarm',
    description:
      'Smoke alarm → fire ticket; N detectors in one building within a window → confirmed fire at district level',
    on: 'device.event',
    deviceTypes: ['smoke-detector'],
    async handle(e, ctx) {
      if (e.deviceType !== 'smoke-detector') return;
      const site = await ctx.site(e.siteId);
      const building = `${e.gridNodeId}:${site.building ?? site.id}`;
      const incidentKey = `fire:${building}`;
      const at = policyAt(e);
      if (e.event.type === 'smoke.alarm') {
        const { ticket } = await ctx.tickets.raise({
          category: 'fire',
          source: 'device-rule',
          severity: 'major',
          title: { code: 'fire.smoke' },
          placement: placementOf(e),
          incidentKey,
          link: { kind: 'event', ref: eventRef(e), at: e.at },
          note: `detector ${e.deviceId} alarmed`,
          actor: 'rule:smoke-alarm',
        });
        await ctx.tickets.note(ticket.id, 'rule:smoke-alarm', `detector ${e.deviceId} alarmed`, {
          kind: 'device',
          ref: e.deviceId,
          at: e.at,
        });
        const windowMs = ctx.policy('smoke.confirm.windowSeconds', at) * 1000;
        const needed = ctx.policy('smoke.confirm.count', at);
        const detectors = (await ctx.tickets.links(ticket.id, 'device')).filter(
          (l) => l.at > e.at - windowMs,
        );
        const confirmedBefore = ticket.level >= 4 && ticket.severity === 'critical';
        const confirms = !confirmedBefore && detectors.length >= needed;
        const confirmed = confirms
          ? await ctx.tickets.escalateTo(
              ticket.id,
              4,
              'rule:smoke-alarm',
              `confirmed fire: ${detectors.length} detectors in the building within ${windowMs / 1000} s`,
              'critical',
              { code: 'fire.confirmed', params: { detectors: detectors.length } },
            )
          : undefined;
        // Every alarm asks for an alert, not only the one that opened the ticket: the alert service
        // counts it on the active alert, and raises a new one when the last was resolved, so a fire
        // that flares up again while its ticket is open pages people again.
        ctx.requestAlert(
          confirmedBefore || confirmed
            ? {
                ...e,
                severity: 'critical',
                cause: 'fire-confirmed',
                ...ticketTitle(confirmed ?? ticket),
                ticketId: ticket.id,
                eventRef: eventRef(e),
              }
            : {
                ...e,
                severity: 'major',
                cause: 'smoke-alarm',
                ...ticketTitle(ticket),
                ticketId: ticket.id,
                eventRef: eventRef(e),
              },
        );
        return;
      }
      if (e.event.type === 'smoke.clear' || e.event.type === 'silenced') {
        const open = await ctx.tickets.findOpen(incidentKey);
        if (!open) return;
        const confirmed = open.level >= 4 && open.severity === 'critical';
        const what =
          e.event.type === 'silenced' ? 'silenced at the detector' : 'smoke cleared at the detector';
        await ctx.tickets.note(
          open.id,
          'rule:smoke-alarm',
          confirmed
            ? `${e.deviceId}: ${what}`
            : `${e.deviceId}: ${what} before confirmation; staff must still verify on site`,
          { kind: 'event', ref: eventRef(e), at: e.at },
        );
      }
    },
  };
}
