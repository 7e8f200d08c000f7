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
        address: self.address(),
        mqttPort: self.mqttPort(),
        startedAt,
        lastHeartbeatAt: new Date().toISOString(),
        connectedDevices: self.connectedDevices(),
      },
    ],
  };
}
