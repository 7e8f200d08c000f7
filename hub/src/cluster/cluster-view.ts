import type { ClusterView } from '../api/routes/cluster.ts';
import type { ClusterNode, NodeSelf } from './cluster-node.ts';

/** GET /api/v1/cluster: the registry in cluster mode; a single node lists itself. */
export function clusterView(node: ClusterNode | undefined, singleId: string, self: NodeSelf): ClusterView {
  const startedAt = new Date().toISOString();
  if (node) return { nodeId: node.id, clustered: true, nodes: () => node.nodes() };
  return {
    nodeId: singleId,
    clustered: false,
    nodes: async () => [
      {
        id: singleId,
        // a hub started without sockets (route tests) has no address yet
        address: attempt(() => self.address(), ''),
        mqttPort: attempt(() => self.mqttPort(), 0),
        startedAt,
        lastHeartbeatAt: new Date().toISOString(),
        connectedDevices: self.connectedDevices(),
      },
    ],
  };
}

function attempt<T>(read: () => T, otherwise: T): T {
  try {
    return read();
  } catch {
    return otherwise;
  }
}
