import type { PublishPacket } from 'aedes';

/** Where a hub → staff message is (what the per-subscriber jurisdiction check needs). */
export interface MessageScope {
  gridPath: string;
  siteId: string | null;
}

const GRID_PATH = 'gh-grid-path';
const SITE = 'gh-site';

/**
 * The scope rides with the message as MQTT 5 user properties of the packet: aedes copies a
 * packet's `properties` into every copy it queues, and the session store keeps them, so a message
 * queued for a sleeping staff session is checked after a restart exactly as when it was published
 * — without asking the store where its grid node is. The broker speaks MQTT 3.1.1 only, and
 * mqtt-packet writes properties for protocol 5 alone, so they never reach a client (if MQTT 5 is
 * offered one day, authorizeForward must strip them).
 */
export function withScope(scope: MessageScope): PublishPacket['properties'] {
  return {
    userProperties: { [GRID_PATH]: scope.gridPath, ...(scope.siteId ? { [SITE]: scope.siteId } : {}) },
  };
}

/** The scope a hub message was published with; undefined for a message that has none. */
export function scopeOf(packet: { properties?: PublishPacket['properties'] }): MessageScope | undefined {
  const props = packet.properties?.userProperties as Record<string, string | string[]> | undefined;
  const gridPath = props?.[GRID_PATH];
  if (typeof gridPath !== 'string') return undefined;
  const site = props?.[SITE];
  return { gridPath, siteId: typeof site === 'string' ? site : null };
}
