import type { Redis } from 'ioredis';

/** One live node as GET /api/v1/cluster shows it. */
export interface ClusterNodeInfo {
  id: string;
  /** where its HTTP API listens (http://host:port) and its MQTT port */
  address: string;
  mqttPort: number;
  startedAt: string;
  lastHeartbeatAt: string;
  /** devices with a live MQTT connection to this node */
  connectedDevices: number;
}

export const KEY_PREFIX = 'gridhub:';
const NODES = `${KEY_PREFIX}nodes`;
const nodeKey = (id: string) => `${KEY_PREFIX}node:${id}`;

/**
 * The node registry (issue 19): every node writes its entry each heartbeat with a time to live of
 * three heartbeats; an entry that expired is a dead node. Redis rather than a PostgreSQL table:
 * a key's expiry is the death bound itself, nothing has to sweep it, and a heartbeat costs the
 * store nothing.
 */
export class NodeRegistry {
  constructor(
    private readonly db: Redis,
    private readonly heartbeatMs: number,
  ) {}

  async beat(info: ClusterNodeInfo): Promise<void> {
    await this.db
      .multi()
      .set(nodeKey(info.id), JSON.stringify(info), 'PX', this.heartbeatMs * 3)
      .sadd(NODES, info.id)
      .exec();
  }

  /** Leave at once (a graceful stop), so nobody waits three heartbeats for it. */
  async leave(id: string): Promise<void> {
    await this.db.multi().del(nodeKey(id)).srem(NODES, id).exec();
  }

  async live(): Promise<ClusterNodeInfo[]> {
    const ids = await this.db.smembers(NODES);
    if (ids.length === 0) return [];
    const values = await this.db.mget(ids.map(nodeKey));
    const gone = ids.filter((_, i) => values[i] === null);
    if (gone.length > 0) await this.db.srem(NODES, ...gone);
    return values
      .filter((v): v is string => v !== null)
      .map((v) => JSON.parse(v) as ClusterNodeInfo)
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  async isLive(id: string): Promise<boolean> {
    return (await this.db.exists(nodeKey(id))) === 1;
  }
}
