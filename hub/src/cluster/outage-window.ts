import type { Redis } from 'ioredis';
import type { SharedOfflineWindow } from '../rules/rule.ts';
import { KEY_PREFIX } from './node-registry.ts';

const siteKey = (siteId: string) => `${KEY_PREFIX}offline-window:${siteId}`;

/**
 * The presence rule's outage window shared by the nodes (issue 19): a sorted set per site of the
 * devices that went offline, scored by when. A building going dark drops its devices onto several
 * nodes at once; each node's own batch holds only its share, so each asks here how many of the
 * site went offline within the window. Redis rather than the store: the window is seconds long,
 * every node must see an offline the moment it is raised (the store's presence rows trail by a
 * flush and say nothing of when a device went offline), and a key's expiry cleans up by itself.
 */
export class RedisOfflineWindow implements SharedOfflineWindow {
  constructor(private readonly redis: () => Redis) {}

  async offline(siteId: string, deviceId: string, at: number, windowMs: number): Promise<void> {
    const key = siteKey(siteId);
    await this.redis()
      .multi()
      .zadd(key, at, deviceId)
      // nothing older than two windows is asked for again
      .zremrangebyscore(key, '-inf', at - 2 * windowMs)
      .pexpire(key, 2 * windowMs + 60_000)
      .exec();
  }

  async online(siteId: string, deviceId: string): Promise<void> {
    await this.redis().zrem(siteKey(siteId), deviceId);
  }

  async since(siteId: string, since: number): Promise<string[]> {
    return this.redis().zrangebyscore(siteKey(siteId), since, '+inf');
  }
}
