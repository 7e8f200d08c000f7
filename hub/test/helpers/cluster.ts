/**
 * A test cluster (issue 19): one throw-away Redis (helpers/redis-server.ts) and one PostgreSQL
 * database of the run's server (global-setup-postgres.ts) shared by hub nodes started in-process
 * (`addNode`, port 0) or as child processes (`addProcess`, for SIGKILL). Nodes are started one after
 * another: the first creates the tables. Free of vitest, so the benchmark may use it too.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { HubProcess } from './hub-process.ts';
import { TestRedis } from './redis-server.ts';
import { startTestHub, type TestHub, tempDir } from './start-hub.ts';
import { dropTestStore, postgresStoreUrl } from './test-store.ts';

/** Heartbeat of test nodes: a dead node is known in 3 × 200 ms, its wills go out within 7 beats. */
export const TEST_HEARTBEAT_MS = 200;

export class TestCluster {
  readonly redis = new TestRedis();
  /** names the shared database (test-store.ts hashes it) */
  private readonly storeKey = tempDir('gridhub-cluster-');
  storeUrl = '';
  readonly keyFile = join(this.storeKey, 'ingress.key');
  readonly nodes: TestHub[] = [];
  readonly processes: HubProcess[] = [];

  async start(): Promise<void> {
    await this.redis.start();
    this.storeUrl = await postgresStoreUrl(this.storeKey);
  }

  /** The config every node shares: the same store, the same Redis. */
  overrides(nodeId: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      'store.url': this.storeUrl,
      'cluster.redisUrl': this.redis.url,
      'cluster.nodeId': nodeId,
      'cluster.heartbeatMs': TEST_HEARTBEAT_MS,
      // every node opens the integration secrets the others sealed
      'ingress.secretKeyFile': this.keyFile,
      ...extra,
    };
  }

  /** An in-process node on port 0 in a temp directory of its own. */
  async addNode(nodeId: string, extra: Record<string, unknown> = {}): Promise<TestHub> {
    const node = await startTestHub({ overrides: this.overrides(nodeId, extra) });
    this.nodes.push(node);
    return node;
  }

  /** A node as its own process (`kill()` is SIGKILL), its config in the environment. */
  async addProcess(nodeId: string, env: Record<string, string> = {}): Promise<HubProcess> {
    const p = new HubProcess(tempDir('gridhub-node-'), {
      GRIDHUB_STORE_URL: this.storeUrl,
      GRIDHUB_CLUSTER_REDIS_URL: this.redis.url,
      GRIDHUB_CLUSTER_NODE_ID: nodeId,
      GRIDHUB_CLUSTER_HEARTBEAT_MS: String(TEST_HEARTBEAT_MS),
      GRIDHUB_INGRESS_SECRET_KEY_FILE: this.keyFile,
      ...env,
    });
    await p.start();
    this.processes.push(p);
    return p;
  }

  async cleanup(): Promise<void> {
    for (const p of this.processes.splice(0)) {
      await p.kill();
      rmSync(p.dataDir, { recursive: true, force: true });
    }
    for (const n of this.nodes.splice(0)) await n.cleanup();
    await dropTestStore(this.storeKey);
    rmSync(this.storeKey, { recursive: true, force: true });
    await this.redis.stop();
  }
}
