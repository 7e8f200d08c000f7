import type { Redis } from 'ioredis';
import type { KnownDevice } from '../broker/device-directory.ts';
import type { Logger } from '../logger.ts';
import type { PresenceOwnership } from '../presence/presence.ts';
import { KEY_PREFIX } from './node-registry.ts';

const OWNERS = `${KEY_PREFIX}presence:owner`;
/** an owner value: the device's offline has been raised (by whichever node) */
const OFFLINE = '-';

/**
 * May this node raise the device's offline? One script run alone by Redis, so exactly one node
 * gets yes: the owner itself, or anyone once the owner's registry entry expired (a dead node);
 * nobody while another live node holds it; nobody again once it was raised. A device the hash does
 * not know (re-armed from the store, e.g. after Redis lost its data) goes to the first who asks.
 */
const MAY_GO_OFFLINE = `
local v = redis.call('HGET', KEYS[1], ARGV[1])
if v == '${OFFLINE}' then return 0 end
if v then
  local node = string.match(v, '^(.-)|')
  if node ~= ARGV[2] and redis.call('EXISTS', ARGV[3] .. node) == 1 then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], '${OFFLINE}')
return 1`;

/** heartbeats a reaper leaves the wills of a dead node's devices before it ends those left */
const WILL_BEATS = 8;

/** Take a dead node's device only if nobody claimed it meanwhile. */
const REAP = `
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], '${OFFLINE}')
return 1`;

/**
 * Cluster-wide presence (issue 19): a Redis hash says which node holds each device's connection
 * (`node|time`, written when it connects or comes back). A late disconnect or will on node A after
 * the device reconnected on node B, and A's silence deadline for a device now talking to B, are
 * refused by the script above, so they mark nothing offline. A dead node's devices that come back
 * elsewhere are claimed by their new node; those that do not (and had no will) are ended by the
 * reaper on a survivor: within 3 heartbeats (the dead node's registry entry expires), plus 8 left
 * for the wills, plus 5 (the reaper's period): 16 heartbeats at most, 32 s at the default 2 s.
 */
export class PresenceOwners implements PresenceOwnership {
  private timer: NodeJS.Timeout | undefined;
  private reaping = false;
  /** when this node first found each dead node dead */
  private readonly deadSince = new Map<string, number>();

  constructor(
    private readonly nodeId: string,
    private readonly db: Redis,
    private readonly heartbeatMs: number,
    private readonly parts: {
      find(deviceId: string): Promise<KnownDevice | undefined>;
      markOffline(device: Omit<KnownDevice, 'status' | 'secretHash' | 'idIsPerson'>): void;
    },
    private readonly log: Logger,
  ) {}

  claim(deviceId: string): void {
    this.db
      .hset(OWNERS, deviceId, `${this.nodeId}|${Date.now()}`)
      .catch((err: unknown) => this.log.warn({ err, deviceId }, 'presence claim not written'));
  }

  async mayGoOffline(deviceId: string, reason: 'will' | 'deadline'): Promise<boolean> {
    // A will of a connection taken over by another node is published by this node the moment
    // that node tells it of the new connection, which it does just before it answers CONNACK and
    // claims the device: a quarter second lets that claim land first.
    if (reason === 'will') await new Promise((r) => setTimeout(r, 250));
    const r = await this.db.eval(MAY_GO_OFFLINE, 1, OWNERS, deviceId, this.nodeId, `${KEY_PREFIX}node:`);
    return r === 1;
  }

  start(): void {
    this.timer = setInterval(() => void this.reap(), this.heartbeatMs * 5);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Devices held by nodes that are gone and not claimed since: offline, once. */
  async reap(): Promise<number> {
    if (this.reaping) return 0;
    this.reaping = true;
    let ended = 0;
    try {
      const live = new Map<string, boolean>();
      const now = Date.now();
      let cursor = '0';
      do {
        const [next, flat] = await this.db.hscan(OWNERS, cursor, 'COUNT', 1000);
        cursor = next;
        for (let i = 0; i + 1 < flat.length; i += 2) {
          const deviceId = flat[i] as string;
          const value = flat[i + 1] as string;
          if (value === OFFLINE) continue;
          const node = value.split('|')[0] as string;
          if (node === this.nodeId) continue;
          if (!live.has(node)) live.set(node, (await this.db.exists(`${KEY_PREFIX}node:${node}`)) === 1);
          if (live.get(node)) {
            this.deadSince.delete(node);
            continue;
          }
          // Its devices' wills go first (aedes publishes them within 4 heartbeats of the death):
          // the reaper is for those that had none, and the offline says "will" where there was one.
          if (!this.deadSince.has(node)) this.deadSince.set(node, now);
          if (now - (this.deadSince.get(node) as number) < this.heartbeatMs * WILL_BEATS) continue;
          if ((await this.db.eval(REAP, 1, OWNERS, deviceId, value)) !== 1) continue;
          const d = await this.parts.find(deviceId);
          if (d) {
            const { modelId, deviceType, siteId, gridNodeId, gridPath, emergencyUnitId } = d;
            // the placement only: the directory's record also carries the secret's hash
            this.parts.markOffline({
              deviceId,
              modelId,
              deviceType,
              siteId,
              gridNodeId,
              gridPath,
              emergencyUnitId,
            });
            ended++;
          }
        }
      } while (cursor !== '0');
    } catch (err) {
      this.log.warn({ err }, 'presence reaper failed; retried next period');
    } finally {
      this.reaping = false;
    }
    return ended;
  }
}
