import { rmSync } from 'node:fs';
import { loadConfig } from '../../src/config/load.ts';
import { Hub } from '../../src/hub.ts';
import { createLogger } from '../../src/logger.ts';
import { ADMIN_TOKEN, ApiClient, type Transport, tempDir } from './test-hub.ts';
import { dropTestStore, testStoreUrl } from './test-store.ts';

/**
 * The same client as the integration tests', through fastify's inject(): no socket, no port. Route
 * tests use it for request validation, error codes and authorisation per route; what crosses a
 * socket stays in the integration tests.
 */
const injected =
  (hub: Hub): Transport =>
  async (method, url, headers, body) => {
    const res = await hub.http.inject({
      method: method as 'GET',
      url,
      headers,
      ...(body === undefined ? {} : { payload: body }),
    });
    return {
      status: res.statusCode,
      type: String(res.headers['content-type'] ?? ''),
      text: res.body,
      headers: new Headers(res.headers as Record<string, string>),
    };
  };

/** A hub started without sockets (no broker, no listening API) in a temp directory. */
export async function startInjectHub(): Promise<{ hub: Hub; api: ApiClient; cleanup(): Promise<void> }> {
  const dataDir = tempDir('gridhub-routes-');
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir,
      'store.url': await testStoreUrl(dataDir),
      'log.level': process.env.GRIDHUB_TEST_LOG ?? 'silent',
      'auth.bootstrapAdminToken': ADMIN_TOKEN,
      'nodeRed.enabled': false,
    },
  });
  const hub = new Hub(config, createLogger(config.log.level));
  await hub.start({ listen: false });
  return {
    hub,
    api: new ApiClient('', ADMIN_TOKEN, injected(hub)),
    async cleanup() {
      await hub.stop();
      rmSync(dataDir, { recursive: true, force: true });
      await dropTestStore(dataDir);
    },
  };
}
