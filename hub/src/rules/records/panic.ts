import { ticketTitle } from '../../tickets/ticket-titles.ts';
import { eventRef, placementOf, type Rule } from '../rule.ts';

/**
 * 一键报警: a press is an incident, not a state (many buttons never send "released"). One
 * street-level ticket per button while it is open (further presses append), and an alert request.
 */
export function panicPressRule(): Rule {
  return {
    name: 'panic-press',
    description: 'Panic button press → life-safety ticket at street level and an alert to the emergency unit',
    on: 'device.event',
    deviceTypes: ['panic-button'],
    async handle(e, ctx) {
      if (e.deviceType !== 'panic-button' || e.event.type !== 'press') return;
      const { ticket } = await ctx.tickets.raise({
        category: 'panic',
        source: 'device-rule',
        severity: 'critical',
        title: { code: 'panic.press', params: { kind: e.event.kind ?? 'single' } },
        ...(e.event.media?.length ? { description: `现场音视频：${e.event.media.join(' ')}` } : {}),
        placement: placementOf(e),
        incidentKey: `panic:${e.deviceId}`,
        link: { kind: 'event', ref: eventRef(e), at: e.at },
        actor: `rule:panic-press`,
      });
      ctx.requestAlert({
        ...e,
        severity: 'critical',
        cause: 'panic-press',
        ...ticketTitle(ticket),
        ticketId: ticket.id,
        eventRef: eventRef(e),
      });
    },
  };
}
