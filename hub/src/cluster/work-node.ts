import { randomBytes } from 'node:crypto';
import type { Config } from '../config/schema.ts';
import type { Hub } from '../hub.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { nodeRedOptions } from '../node-red/options.ts';
import { NodeRedSupervisor } from '../node-red/supervisor.ts';
import type { Store } from '../store/store.ts';
import { type ClusterNode, nodeIdOf } from './cluster-node.ts';
import { Leadership } from './leadership.ts';
import { RedisOfflineWindow } from './outage-window.ts';
import { RulesDuties } from './rules-duties.ts';

/** A dead leader's Node-RED is started elsewhere within this plus a third of it. */
export const NODE_RED_LEASE_MS = 15_000;

/**
 * Who this process is among the nodes that share one store when it claims work, and whether it is
 * in cluster mode (a PostgreSQL store and `cluster.redisUrl`; cluster-node.ts refuses a Redis URL
 * without PostgreSQL).
 */
export interface WorkNode {
  /** the holder name in claims and leases: unique per running process */
  readonly id: string;
  /** several nodes may share the store: claim due work and elect one Node-RED */
  readonly clustered: boolean;
}

export function workNode(store: Store, config: Config): WorkNode {
  // A restarted node is a new holder: its old claims are taken over when their leases run out.
  const id = `${nodeIdOf(config)}:${process.pid}:${randomBytes(3).toString('hex')}`;
  return { id, clustered: store.dialect === 'postgres' && config.cluster.redisUrl !== '' };
}

/** A PostgreSQL store may be shared by several nodes: what the rules must do once among them. */
export function rulesDuties(
  hub: { store: Store; node: WorkNode; metrics: Metrics; config: Config; cluster: ClusterNode | undefined },
  logger: Logger,
): RulesDuties | undefined {
  if (hub.store.dialect !== 'postgres') return undefined;
  // claims are kept as long as the journal keeps its own dedupe records
  const retentionMs = hub.config.ingest.dedupeRetentionHours * 3600_000;
  // the cluster node's Redis exists once it started, before the rules see any event
  const cluster = hub.cluster;
  const window = cluster ? new RedisOfflineWindow(() => cluster.redis) : undefined;
  return new RulesDuties(hub.store, hub.node.id, retentionMs, hub.metrics, logger, window);
}

/** One Node-RED for the cluster: the holder of the `node-red` lease runs it (every node outside cluster mode). */
export function nodeRedLeadership(
  store: Store,
  node: WorkNode,
  supervisor: { start(): void; stop(): Promise<void> },
  logger: Logger,
): Leadership {
  return new Leadership(
    store,
    node.id,
    node.clustered,
    { name: 'node-red', ttlMs: NODE_RED_LEASE_MS },
    logger,
    () => supervisor.start(),
    () => supervisor.stop(),
  );
}

/**
 * The hub's Node-RED step: the supervised editor and flows run on this node while it holds the
 * `node-red` lease (always, outside cluster mode).
 */
export class NodeRedStep {
  readonly name = 'node-red';
  supervisor: NodeRedSupervisor | undefined;
  private lead: Leadership | undefined;

  constructor(private readonly hub: Hub) {}

  async start(): Promise<void> {
    if (!this.hub.config.nodeRed.enabled) return;
    const log = this.hub.logger.child({ module: 'node-red' });
    this.supervisor = new NodeRedSupervisor(await nodeRedOptions(this.hub), log);
    this.lead = nodeRedLeadership(this.hub.store, this.hub.node, this.supervisor, log);
    await this.lead.start();
  }

  async stop(): Promise<void> {
    await this.lead?.stop();
  }
}
