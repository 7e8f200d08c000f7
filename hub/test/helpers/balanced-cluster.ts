/**
 * A balanced gridhub cluster for tests (issue 19): N hub nodes as child processes (so one can be SIGKILLed),
 * each with its own temp data directory, node id and kept loopback ports, all sharing one
 * throw-away PostgreSQL database (a database of its own per cluster on the run's test server,
 * helpers/test-store.ts) and one throw-away Redis (helpers/redis-server.ts), optionally behind a
 * real HAProxy running the shipped deploy/haproxy.cfg (helpers/haproxy.ts). A killed node is
 * restarted on the same data directory, node id and ports, as a supervisor would restart it.
 * Free of vitest: the bench uses it too.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_HEARTBEAT_MS } from './cluster.ts';
import { TestHaproxy } from './haproxy.ts';
import { type HubEnv, HubProcess } from './hub-process.ts';
import { TestRedis } from './redis-server.ts';
import { ADMIN_TOKEN, ApiClient } from './start-hub.ts';
import { dropPostgresStore, postgresStoreUrl } from './test-store.ts';

export interface BalancedClusterOptions {
  nodes: number;
  /** config every node gets (GRIDHUB_…), on top of the cluster's own */
  env?: HubEnv;
  /** put HAProxy in front (default true) */
  balancer?: boolean;
}

export class BalancedCluster {
  readonly dir: string;
  readonly redis = new TestRedis();
  readonly nodes: HubProcess[] = [];
  haproxy: TestHaproxy | undefined;
  storeUrl = '';

  constructor(private readonly options: BalancedClusterOptions) {
    this.dir = mkdtempSync(join(tmpdir(), 'gridhub-cluster-'));
  }

  /** Node i's id (`node-1` …), as HAProxy and GET /api/v1/cluster name it. */
  nodeId(i: number): string {
    return `node-${i + 1}`;
  }

  /** The API through the balancer (or node 1 when there is none), as the admin. */
  get api(): ApiClient {
    return new ApiClient(this.url, ADMIN_TOKEN);
  }

  get url(): string {
    return this.haproxy ? this.haproxy.url : (this.nodes[0] as HubProcess).url;
  }

  get mqttUrl(): string {
    return this.haproxy ? this.haproxy.mqttUrl : `mqtt://127.0.0.1:${(this.nodes[0] as HubProcess).mqttPort}`;
  }

  node(i: number): HubProcess {
    const n = this.nodes[i];
    if (!n) throw new Error(`no node ${i}`);
    return n;
  }

  async start(): Promise<void> {
    await this.redis.start();
    // one database for the whole cluster, named after the cluster's directory
    this.storeUrl = await postgresStoreUrl(this.dir);
    for (let i = 0; i < this.options.nodes; i++) {
      const dataDir = join(this.dir, this.nodeId(i));
      this.nodes.push(
        new HubProcess(dataDir, {
          GRIDHUB_STORE_URL: this.storeUrl,
          GRIDHUB_CLUSTER_REDIS_URL: this.redis.url,
          GRIDHUB_CLUSTER_NODE_ID: this.nodeId(i),
          GRIDHUB_CLUSTER_HEARTBEAT_MS: String(TEST_HEARTBEAT_MS),
          // one integration key for all nodes: each opens the secrets another sealed
          GRIDHUB_INGRESS_SECRET_KEY_FILE: join(this.dir, 'ingress.key'),
          // behind HAProxy: the client address is in X-Forwarded-For (deploy/haproxy.cfg forwardfor)
          GRIDHUB_HTTP_TRUST_PROXY: this.options.balancer === false ? 'false' : 'true',
          ...this.options.env,
        }),
      );
    }
    // The first node creates the schema; the others start together once it is there.
    await this.node(0).start();
    await Promise.all(this.nodes.slice(1).map((n) => n.start()));
    if (this.options.balancer !== false) {
      this.haproxy = new TestHaproxy(
        this.nodes.map((n, i) => ({ name: this.nodeId(i), mqttPort: n.mqttPort, httpPort: n.httpPort })),
      );
      await this.haproxy.start();
    }
  }

  /** SIGKILL node i: no shutdown hook runs; waits until the balancer has taken it out. */
  async kill(i: number): Promise<void> {
    await this.node(i).kill();
    await this.haproxy?.waitDown(this.nodeId(i));
  }

  /** Start node i again on its data directory, node id and ports; waits until the balancer uses it. */
  async restart(i: number): Promise<void> {
    await this.node(i).start();
    await this.haproxy?.waitUp([this.nodeId(i)]);
  }

  /** Log tail of every node, for a failure message. */
  output(chars = 3000): string {
    return this.nodes.map((n, i) => `--- ${this.nodeId(i)}\n${n.output.slice(-chars)}`).join('\n');
  }

  async stop(): Promise<void> {
    await this.haproxy?.stop();
    const errors: unknown[] = [];
    for (const n of this.nodes) await n.stop().catch((err: unknown) => errors.push(err));
    await this.redis.stop();
    await dropPostgresStore(this.dir);
    rmSync(this.dir, { recursive: true, force: true });
    if (errors.length) throw errors[0];
  }
}
