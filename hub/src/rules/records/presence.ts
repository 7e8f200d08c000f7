import type { PresenceChange } from '../../contract/device-event.ts';
import { placementOf, policyAt, type Rule, type RuleContext } from '../rule.ts';

/**
 * Offline devices. An offline device waits out the window first (a short drop that recovers raises
 * nothing); then, if enough devices of one site went offline within the window, one site-outage
 * ticket is raised instead of one per device (a building going dark is one outage). A device that
 * comes back notes it and auto-resolves its ticket if nobody has started on it.
 */
export function presenceRule(): Rule {
  const pending = new Map<string, { devices: Map<string, PresenceChange>; timer: NodeJS.Timeout }>();

  async function settle(siteId: string, ctx: RuleContext): Promise<void> {
    const batch = pending.get(siteId);
    pending.delete(siteId);
    if (!batch || batch.devices.size === 0) return;
    const devices = [...batch.devices.values()];
    const first = devices[0] as PresenceChange;
    if (devices.length >= ctx.policy<number>('outage.site.count', policyAt(first))) {
      const { ticket } = await ctx.tickets.raise({
        category: 'site-outage',
        source: 'device-rule',
        severity: 'major',
        title: { code: 'site.outage', params: { count: devices.length } },
        description: devices.map((d) => d.deviceId).join(', '),
        placement: { ...placementOf(first), deviceId: null },
        incidentKey: `outage:${siteId}`,
        actor: 'rule:presence',
      });
      for (const d of devices)
        await ctx.tickets.note(ticket.id, 'rule:presence', `${d.deviceId} offline (${d.reason})`, {
          kind: 'device',
          ref: d.deviceId,
          at: d.at,
        });
      return;
    }
    for (const d of devices) {
      await ctx.tickets.raise({
        category: 'maintenance',
        source: 'device-rule',
        severity: 'minor',
        title: { code: 'device.offline' },
        placement: placementOf(d),
        incidentKey: `offline:${d.deviceId}`,
        note: `offline (${d.reason})`,
        actor: 'rule:presence',
      });
    }
  }

  return {
    name: 'presence',
    description:
      'Offline past the deadline → maintenance ticket; many at one site within a window → one site-outage ticket; back online → auto-resolve',
    on: 'device.presence',
    async handle(p, ctx) {
      if (p.reason === 'decommissioned') return;
      if (!p.online) {
        let batch = pending.get(p.siteId);
        if (!batch) {
          const windowMs = ctx.policy<number>('outage.site.windowSeconds', policyAt(p)) * 1000;
          const timer = setTimeout(() => {
            settle(p.siteId, ctx).catch((err: unknown) =>
              ctx.logger.error({ err, siteId: p.siteId }, 'offline settlement failed'),
            );
          }, windowMs);
          batch = { devices: new Map(), timer };
          pending.set(p.siteId, batch);
        }
        batch.devices.set(p.deviceId, p);
        return;
      }
      // Back online: a short drop still in its window is forgotten.
      if (pending.get(p.siteId)?.devices.delete(p.deviceId)) return;
      const resolved = await ctx.tickets.resolveIfUnhandled(
        `offline:${p.deviceId}`,
        'rule:presence',
        'device back online',
      );
      if (!resolved) {
        const outage = await ctx.tickets.findOpen(`outage:${p.siteId}`);
        if (outage)
          await ctx.tickets.note(outage.id, 'rule:presence', `${p.deviceId} back online`, {
            kind: 'device-online',
            ref: p.deviceId,
            at: p.at,
          });
      }
    },
    stop() {
      for (const b of pending.values()) clearTimeout(b.timer);
      pending.clear();
    },
  };
}
