import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { requirePermission } from '../../auth/principal.ts';
import type { ClusterNodeInfo } from '../../cluster/node-registry.ts';
import { errorResponses } from '../schemas.ts';

const ClusterNodeView = Type.Object({
  id: Type.String(),
  address: Type.String({ description: 'the node’s HTTP address' }),
  mqttPort: Type.Integer(),
  startedAt: Type.String(),
  lastHeartbeatAt: Type.String(),
  connectedDevices: Type.Integer({ description: 'devices with a live MQTT connection to this node' }),
});

const ClusterView = Type.Object({
  mode: Type.Union([Type.Literal('cluster'), Type.Literal('single')]),
  /** the node that answered */
  nodeId: Type.String(),
  nodes: Type.Array(ClusterNodeView),
});

/** What the cluster route reads (cluster/cluster-node.ts; a single node answers about itself). */
export interface ClusterView {
  nodeId: string;
  clustered: boolean;
  nodes(): Promise<ClusterNodeInfo[]>;
}

export const clusterRoutes: FastifyPluginAsyncTypebox<{ cluster: ClusterView }> = async (
  app,
  { cluster },
) => {
  app.get(
    '/cluster',
    {
      schema: {
        tags: ['ops'],
        summary: 'The live nodes of the cluster (admins)',
        description:
          'Each node that heartbeat within the last three heartbeats (cluster.heartbeatMs), with its address and connected-device count. A single node lists itself.',
        response: { 200: ClusterView, ...errorResponses },
      },
    },
    async (req) => {
      requirePermission(req.principal, 'cluster:read');
      return {
        mode: cluster.clustered ? ('cluster' as const) : ('single' as const),
        nodeId: cluster.nodeId,
        nodes: await cluster.nodes(),
      };
    },
  );
};
