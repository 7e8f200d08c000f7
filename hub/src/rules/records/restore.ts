import type { Rule } from '../rule.ts';

/** Which restore resolves which alert causes (the ticket stays open for people to verify). */
const RESTORES: Record<string, (cause: string, code: string | undefined) => boolean> = {
  'smoke.clear': (cause) => cause === 'smoke-alarm',
  'leak.clear': (cause) => cause === 'water-leak',
  // an entrapment ends when the monitor reports code 11 cleared
  'fault.clear': (cause, code) => cause === 'elevator-entrapment' && code === '11',
};

/**
 * A device's own restore resolves its alert (DOMAIN.md: recovery is an event of its own): smoke
 * cleared, leak cleared, entrapment (11) cleared. The alert is resolved as `restored` by the device;
 * its ticket stays for people to verify on site.
 */
export function alertRestoreRule(): Rule {
  return {
    name: 'alert-restore',
    description: "A device's restore (smoke, leak, entrapment cleared) resolves its alert; the ticket stays",
    on: 'device.event',
    deviceTypes: ['smoke-detector', 'water-leak', 'elevator-monitor'],
    async handle(e, ctx) {
      const matches = RESTORES[e.event.type];
      if (!matches) return;
      const code = 'code' in e.event ? e.event.code : undefined;
      await ctx.alerts.resolveRestored(
        e.deviceId,
        (cause) => matches(cause, code),
        `${e.event.type} reported by the device`,
      );
    },
  };
}
