import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { Store } from '../store/store.ts';
import { Leadership } from './leadership.ts';
import { RulesDuties } from './rules-duties.ts';

/** A dead leader's Node-RED is started elsewhere within this plus a third of it. */
export const NODE_RED_LEASE_MS = 15_000;

/**
 * Who this process is among the nodes that share one store, and whether it is in cluster mode.
 * Until the cluster config (`cluster.redisUrl`, `cluster.nodeId`) lands, cluster mode is a
 * PostgreSQL store plus `GRIDHUB_CLUSTER_REDIS_URL` in the environment, and the node id is made
 * per process; both are read here only, so the config can take them over in one place.
 */
export interface ClusterNode {
  /** the holder name in claims and leases: unique per running process */
  readonly id: string;
  /** several nodes may share the store: claim due work and elect one Node-RED */
  readonly clustered: boolean;
}

export function clusterNode(store: Store, env: NodeJS.ProcessEnv = process.env): ClusterNode {
  // A restarted node is a new holder: its old claims are taken over when their leases run out.
  const id = `${env.GRIDHUB_CLUSTER_NODE_ID || hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  return { id, clustered: store.dialect === 'postgres' && Boolean(env.GRIDHUB_CLUSTER_REDIS_URL) };
}

/** A PostgreSQL store may be shared by several nodes: what the rules must do once among them. */
export function rulesDuties(
  hub: { store: Store; node: ClusterNode; metrics: Metrics; config: Config },
  logger: Logger,
): RulesDuties | undefined {
  if (hub.store.dialect !== 'postgres') return undefined;
  // claims are kept as long as the journal keeps its own dedupe records
  const retentionMs = hub.config.ingest.dedupeRetentionHours * 3600_000;
  return new RulesDuties(hub.store, hub.node.id, retentionMs, hub.metrics, logger);
}

/** One Node-RED for the cluster: the holder of the `node-red` lease runs it (every node outside cluster mode). */
export function nodeRedLeadership(
  store: Store,
  node: ClusterNode,
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
