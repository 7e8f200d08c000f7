import type { PresenceChange } from '../../contract/device-event.ts';
import { type TicketState, UNHANDLED_STATES } from '../../tickets/lifecycle.ts';
import { placementOf, policyAt, type Rule, type RuleContext, type SharedOfflineWindow } from '../rule.ts';

/**
 * Offline devices. An offline device waits out the window first (a short drop that recovers raises
 * nothing); then, if enough devices of one site went offline within the window, one site-outage
 * ticket is raised instead of one per device (a building going dark is one outage). A device that
 * comes back notes it and auto-resolves its ticket if nobody has started on it.
 */
export function presenceRule(): Rule {
  const pending = new Map<string, { devices: Map<string, PresenceChange>; timer: NodeJS.Timeout }>();

  /**
   * The devices of the site offline within the window. One node's batch is all it saw; in a
   * cluster the other nodes saw the rest of the building (ctx.offlineWindow), counted from a
   * window before this batch's first offline, so the node whose window closes last still counts
   * the devices that dropped on another node just before. Redis unreachable: this node's own.
   */
  async function offlineSite(siteId: string, devices: PresenceChange[], ctx: RuleContext): Promise<string[]> {
    const own = devices.map((d) => d.deviceId);
    const shared = ctx.offlineWindow;
    if (!shared) return own;
    const first = Math.min(...devices.map((d) => d.at));
    const windowMs = ctx.policy('outage.site.windowSeconds', policyAt(devices[0] as PresenceChange)) * 1000;
    try {
      return [...new Set([...own, ...(await shared.since(siteId, first - windowMs))])];
    } catch (err) {
      ctx.logger.warn({ err, siteId }, 'cluster outage window unreadable; counting this node’s offlines');
      return own;
    }
  }

  async function settle(siteId: string, ctx: RuleContext): Promise<void> {
    const batch = pending.get(siteId);
    pending.delete(siteId);
    if (!batch || batch.devices.size === 0) return;
    const devices = [...batch.devices.values()];
    const first = devices[0] as PresenceChange;
    const site = await offlineSite(siteId, devices, ctx);
    if (site.length >= ctx.policy('outage.site.count', policyAt(first))) {
      // another node of the cluster may have raised it already: join it rather than repeat it
      const ticket =
        (await ctx.tickets.findOpen(`outage:${siteId}`)) ??
        (
          await ctx.tickets.raise({
            category: 'site-outage',
            source: 'device-rule',
            severity: 'major',
            title: { code: 'site.outage', params: { count: site.length } },
            description: site.join(', '),
            placement: { ...placementOf(first), deviceId: null },
            incidentKey: `outage:${siteId}`,
            actor: 'rule:presence',
          })
        ).ticket;
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
          const windowMs = ctx.policy('outage.site.windowSeconds', policyAt(p)) * 1000;
          const timer = setTimeout(() => {
            settle(p.siteId, ctx).catch((err: unknown) =>
              ctx.logger.error({ err, siteId: p.siteId }, 'offline settlement failed'),
            );
          }, windowMs);
          batch = { devices: new Map(), timer };
          pending.set(p.siteId, batch);
        }
        batch.devices.set(p.deviceId, p);
        await shareWindow(ctx, p, (w) =>
          w.offline(p.siteId, p.deviceId, p.at, ctx.policy('outage.site.windowSeconds', policyAt(p)) * 1000),
        );
        return;
      }
      // Back online: a short drop still in its window is forgotten.
      await shareWindow(ctx, p, (w) => w.online(p.siteId, p.deviceId));
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

/** Tell the cluster's outage window; unreachable, this node still counts what it saw. */
async function shareWindow(
  ctx: RuleContext,
  p: PresenceChange,
  write: (w: SharedOfflineWindow) => Promise<void>,
): Promise<void> {
  if (!ctx.offlineWindow) return;
  await write(ctx.offlineWindow).catch((err: unknown) =>
    ctx.logger.warn({ err, deviceId: p.deviceId }, 'cluster outage window not written'),
  );
}

/**
 * A site-outage ticket closes by itself once every device of the site has been back online for
 * `outage.site.stayBackSeconds` (power that flickers back for a minute is not the end of an outage),
 * if nobody has started on it. The clock is two links on the ticket — when the site was last seen
 * all back, and when it was last seen out again — each written with a timeline note, so it survives
 * a restart and the timeline says why the ticket closed. Runs on a tick, from the store's presence,
 * so a device decommissioned meanwhile or a restart needs no event to move on.
 */
export function siteOutageRecoveryRule(checkEveryMs: number): Rule {
  return {
    name: 'site-outage-recovery',
    description:
      'Every device of a site-outage ticket’s site back online for the stay-back time → the ticket closes itself',
    on: 'tick',
    everyMs: () => checkEveryMs,
    async handle(ctx) {
      for (const ticket of await ctx.tickets.openOf('site-outage')) {
        const siteId = ticket.site_id;
        if (!siteId) continue;
        const linkAt = async (kind: string) =>
          Math.max(0, ...(await ctx.tickets.links(ticket.id, kind)).map((l) => l.at));
        const backAt = await linkAt('site-back');
        const outAt = await linkAt('site-out');
        const isBack = backAt > outAt;
        const offline = await ctx.offlineAt(siteId);
        const now = ctx.now();
        const at = { siteId, gridPath: ticket.path, deviceId: null, deviceType: null };
        const staySeconds = ctx.policy('outage.site.stayBackSeconds', at);
        if (offline.length > 0) {
          if (isBack)
            await ctx.tickets.note(
              ticket.id,
              'rule:presence',
              `offline again before the site stayed back: ${offline.join(', ')}`,
              { kind: 'site-out', ref: siteId, at: now },
            );
          continue;
        }
        let since = backAt;
        if (!isBack) {
          await ctx.tickets.note(
            ticket.id,
            'rule:presence',
            `every device of the site is back online; the ticket closes by itself if they stay online for ${staySeconds} s and nobody has started on it`,
            { kind: 'site-back', ref: siteId, at: now },
          );
          since = now;
        }
        if (now - since < staySeconds * 1000 || !UNHANDLED_STATES.has(ticket.state as TicketState)) continue;
        await ctx.tickets.resolveIfUnhandled(
          `outage:${siteId}`,
          'rule:presence',
          `every device of the site back online for ${staySeconds} s`,
        );
      }
    },
  };
}
