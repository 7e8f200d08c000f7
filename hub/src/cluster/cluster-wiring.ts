import { hostname } from 'node:os';
import type { Hub } from '../hub.ts';
import type { Logger } from '../logger.ts';
import { ClusterNode, type NodeSelf } from './cluster-node.ts';
import type { RelayParts } from './event-relay.ts';

export type { ClusterNode };

/** What this node reports of itself (bound late: the ports exist once it listens). */
export function nodeSelf(hub: Hub): NodeSelf {
  return {
    // its own address, not http.publicUrl (that is the load balancer's in a cluster); a node
    // listening on every interface is named by its host name, as its peers would reach it
    address: () => {
      const own = hub.addresses.http;
      const anyHost = hub.config.http.host === '0.0.0.0' || hub.config.http.host === '::';
      return anyHost ? own.replace('//127.0.0.1:', `//${hostname()}:`) : own;
    },
    mqttPort: () => hub.broker.port,
    connectedDevices: () => hub.broker.clients.deviceCount,
  };
}

/**
 * The hub's cluster node when cluster.redisUrl is set (issue 19), wired to the parts the relay
 * reaches: the bus, the console's alert stream, the sign-in throttle and the policies. Its metrics
 * carry the node's name as the `node` label.
 */
export function clusterNodeOf(hub: Hub, logger: Logger): ClusterNode | undefined {
  if (!hub.config.cluster.redisUrl) return undefined;
  // Read when the node starts: the hub builds these parts after its cluster node.
  const parts: RelayParts = {
    get bus() {
      return hub.bus;
    },
    get alertStream() {
      return hub.output.alertStream;
    },
    get throttle() {
      return hub.sessions.throttle;
    },
    get policies() {
      return hub.policies;
    },
    get presence() {
      return hub.presence;
    },
    get directory() {
      return hub.directory;
    },
  };
  const node = new ClusterNode(hub.config, parts, logger);
  node.self = nodeSelf(hub);
  hub.metrics.registry.setDefaultLabels({ node: node.id });
  return node;
}
