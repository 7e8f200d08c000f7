import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import type { Config } from '../config/schema.ts';
import { GridhubError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { redactUrl } from '../store/postgres.ts';
import { RedisBrokerState, within } from './broker-state.ts';
import { EventRelay, type RelayParts } from './event-relay.ts';
import { type ClusterNodeInfo, NodeRegistry } from './node-registry.ts';
import { PresenceOwners } from './presence-owners.ts';

/** What the node reports of itself each heartbeat (bound late: the HTTP and MQTT ports exist once listening). */
export interface NodeSelf {
  address(): string;
  mqttPort(): number;
  connectedDevices(): number;
}

/** `cluster.nodeId`, or host name and HTTP port (a random suffix when the port is chosen by the OS). */
export function nodeIdOf(config: Config): string {
  if (config.cluster.nodeId) return config.cluster.nodeId;
  const host =
    hostname()
      .replace(/[^A-Za-z0-9._-]/g, '-')
      .slice(0, 40) || 'node';
  const suffix = config.http.port === 0 ? randomBytes(4).toString('hex') : String(config.http.port);
  return `${host}-${suffix}`;
}

/** One connection attempt, no retries: start-up fails at once with a clear message. */
async function probe(url: string): Promise<void> {
  const r = new Redis(url, {
    lazyConnect: true,
    retryStrategy: () => null,
    connectTimeout: 5000,
    maxRetriesPerRequest: 0,
  });
  r.on('error', () => {});
  try {
    await r.connect();
    await r.ping();
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new GridhubError(
      'GH_ERR_CLUSTER_REDIS_UNAVAILABLE',
      `cannot reach the cluster Redis at ${redactUrl(url)}: ${reason}. Check that redis-server runs and listens on that host and port, and the password in cluster.redisUrl (GRIDHUB_CLUSTER_REDIS_URL).`,
    );
  } finally {
    r.disconnect();
  }
}

/**
 * This hub as one node of a cluster (issue 19): the checks that refuse a half-configured cluster,
 * the Redis connections, the broker's shared state, the event relay and the node registry. The
 * composition root starts it before everything else, so a refusal leaves nothing started.
 */
export class ClusterNode {
  readonly id: string;
  readonly brokerState: RedisBrokerState;
  readonly startedAt = new Date().toISOString();
  private db: Redis | undefined;
  private sub: Redis | undefined;
  private relay: EventRelay | undefined;
  private registry: NodeRegistry | undefined;
  private timer: NodeJS.Timeout | undefined;
  private owners: PresenceOwners | undefined;
  self: NodeSelf | undefined;

  constructor(
    private readonly config: Config,
    private readonly parts: RelayParts,
    private readonly log: Logger,
  ) {
    this.id = nodeIdOf(config);
    this.brokerState = new RedisBrokerState(config.cluster.redisUrl, config.mqtt.sessionQueueLimit, log);
  }

  get url(): string {
    return redactUrl(this.config.cluster.redisUrl);
  }

  get heartbeatMs(): number {
    return this.config.cluster.heartbeatMs;
  }

  /** The broker's cluster options: a fresh emitter per broker start, and aedes' heartbeat. */
  readonly brokerOptions = () => ({ mq: this.brokerState.emitter(), heartbeatInterval: this.heartbeatMs });

  /** Redis answers (shown in /ready). */
  get healthy(): boolean {
    return this.db?.status === 'ready' && this.sub?.status === 'ready';
  }

  get redis(): Redis {
    if (!this.db) throw new Error('cluster node is not started');
    return this.db;
  }

  async start(): Promise<void> {
    if (!/^postgres(ql)?:\/\//.test(this.config.store.url))
      throw new GridhubError(
        'GH_ERR_CLUSTER_NEEDS_POSTGRES',
        'cluster.redisUrl (GRIDHUB_CLUSTER_REDIS_URL) is set but store.url is not a postgres:// URL: the nodes of a cluster share one PostgreSQL store (GRIDHUB_STORE_URL).',
      );
    await probe(this.config.cluster.redisUrl);
    const open = (role: string) => {
      const r = new Redis(this.config.cluster.redisUrl, { maxRetriesPerRequest: null });
      let lastLog = 0;
      r.on('error', (err: Error) => {
        if (Date.now() - lastLog < 10_000) return;
        lastLog = Date.now();
        this.log.error(
          { err: err.message, role, redis: this.url },
          'cluster Redis connection failed; retrying',
        );
      });
      return r;
    };
    this.db = open('commands');
    this.sub = open('subscriber');
    this.registry = new NodeRegistry(this.db, this.heartbeatMs);
    this.relay = new EventRelay(this.id, this.db, this.sub, this.parts, this.log);
    await this.relay.start();
    const { presence, directory } = this.parts;
    this.owners = new PresenceOwners(
      this.id,
      this.db,
      this.heartbeatMs,
      { find: (id) => directory.find(id), markOffline: (d) => presence.markOffline(d, 'deadline') },
      this.log,
    );
    presence.ownership = this.owners;
    this.owners.start();
    this.timer = setInterval(() => this.beat(), this.heartbeatMs);
    this.timer.unref();
    this.log.info({ nodeId: this.id, redis: this.url }, 'cluster node started');
  }

  /** One heartbeat; none before the node listens (its ports are not known yet). */
  beat(): void {
    const self = this.self;
    if (!self || !this.registry) return;
    let info: ClusterNodeInfo;
    try {
      info = {
        id: this.id,
        address: self.address(),
        mqttPort: self.mqttPort(),
        startedAt: this.startedAt,
        lastHeartbeatAt: new Date().toISOString(),
        connectedDevices: self.connectedDevices(),
      };
    } catch {
      return; // not listening yet
    }
    this.registry.beat(info).catch((err: unknown) => this.log.warn({ err }, 'cluster heartbeat failed'));
  }

  /** The live nodes (GET /api/v1/cluster). */
  nodes(): Promise<ClusterNodeInfo[]> {
    if (!this.registry) return Promise.resolve([]);
    return this.registry.live();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.owners?.stop();
    this.parts.presence.ownership = undefined;
    await this.relay?.stop();
    if (this.healthy) await within(this.registry?.leave(this.id) ?? Promise.resolve(), 1000);
    this.sub?.disconnect();
    this.db?.disconnect();
    this.db = undefined;
    this.sub = undefined;
  }
}
