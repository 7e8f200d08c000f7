import { type ApiDeps, buildApi } from './api/app.ts';
import { type ClusterNode, nodeIdOf } from './cluster/cluster-node.ts';
import { clusterView } from './cluster/cluster-view.ts';
import { nodeSelf } from './cluster/cluster-wiring.ts';
import { DeviceRegistry } from './devices/registry.ts';
import { GridDirectory } from './grid/grid-directory.ts';
import type { Hub } from './hub.ts';

/** What the HTTP API is built from: the hub's services, its readiness checks and its limits. */
export function apiDeps(hub: Hub, registry: DeviceRegistry | undefined, version: string): ApiDeps {
  const db = hub.store.db;
  return {
    logger: hub.logger,
    metricsToken: hub.config.auth.metricsToken,
    db,
    bus: hub.bus,
    presence: hub.presence,
    access: hub.access,
    registry: registry ?? new DeviceRegistry(db, hub.models, hub.bus, hub.presence),
    integrations: hub.ingress.integrations,
    ingressGate: hub.ingress.gate,
    ingress: {
      maxPushBytes: hub.config.ingress.maxPushBytes,
      // older than the dedupe memory, a push could raise its ticket again: refused as a replay
      replayWindowMs: hub.config.ingest.dedupeRetentionHours * 3600_000,
    },
    publicUrl: () => hub.config.http.publicUrl,
    commissioning: hub.ingest.commissioning,
    models: hub.models,
    directory: new GridDirectory(db),
    metrics: hub.metrics,
    tickets: hub.tickets,
    alerts: hub.alerts,
    alertStream: hub.output.alertStream,
    cluster: clusterView(hub.cluster, nodeIdOf(hub.config), nodeSelf(hub)),
    visits: hub.visits,
    notify: hub.notify,
    commands: hub.commands,
    sessions: hub.sessions,
    series: hub.localSeries,
    policies: hub.policies,
    readiness: [
      { name: 'store', ready: () => hub.store.isOpen },
      { name: 'broker', ready: () => hub.broker.listening },
      { name: 'storage', ready: () => hub.storage.healthy, problem: () => hub.storage.problem },
      { name: 'broker-sessions', ready: () => hub.broker.sessionsHealthy },
      {
        // LoRaWAN devices are cut off, the rest of the hub is not: shown, not "not ready".
        name: 'chirpstack',
        optional: true,
        ready: () => hub.ingress.chirpstack.allConnected,
        problem: () => ({
          code: 'GH_ERR_INGRESS_UPSTREAM_DOWN',
          message: hub.ingress.chirpstack.problems().join('; '),
        }),
      },
      ...(hub.cluster ? clusterReadiness(hub.cluster) : []),
    ],
    storage: hub.storage,
    bodyLimitBytes: hub.config.http.bodyLimitBytes,
    jsonBodyLimitBytes: hub.config.http.jsonBodyLimitBytes,
    trustProxy: hub.config.http.trustProxy,
    version,
  };
}

export { buildApi };

/** Cluster mode: this node's Redis (its PostgreSQL is the `store` check). */
function clusterReadiness(node: ClusterNode): ApiDeps['readiness'] {
  return [
    {
      name: 'redis',
      ready: () => node.healthy,
      problem: () => ({
        code: 'GH_ERR_CLUSTER_REDIS_UNAVAILABLE',
        message: `the cluster Redis at ${node.url} does not answer`,
      }),
    },
  ];
}
