import { rmSync } from 'node:fs';
import { loadConfig } from '../../src/config/load.ts';
import { Hub } from '../../src/hub.ts';
import { createLogger } from '../../src/logger.ts';
import { ADMIN_TOKEN, type ApiResponse, tempDir } from './test-hub.ts';

/**
 * The same calls as ApiClient, through fastify's inject(): no socket, no port. Route tests use it
 * for request validation, error codes and authorisation per route; what crosses a socket stays in
 * the integration tests.
 */
export class InjectClient {
  readonly baseUrl = '';

  constructor(
    private readonly hub: Hub,
    readonly token?: string,
  ) {}

  as(token: string): InjectClient {
    return new InjectClient(this.hub, token);
  }

  async request<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = {};
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = contentType;
    const res = await this.hub.http.inject({
      method: method as 'GET',
      url: path,
      headers,
      ...(body === undefined ? {} : { payload: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const type = String(res.headers['content-type'] ?? '');
    const parsed: unknown = type.includes('json') && res.body ? JSON.parse(res.body) : res.body;
    return {
      status: res.statusCode,
      body: parsed as T,
      headers: new Headers(res.headers as Record<string, string>),
    };
  }

  get<T = unknown>(path: string) {
    return this.request<T>('GET', path);
  }
  post<T = unknown>(path: string, body?: unknown, contentType?: string) {
    return this.request<T>('POST', path, body ?? {}, contentType);
  }
  put<T = unknown>(path: string, body: unknown) {
    return this.request<T>('PUT', path, body);
  }
  delete<T = unknown>(path: string) {
    return this.request<T>('DELETE', path);
  }
}

/** A hub started without sockets (no broker, no listening API) in a temp directory. */
export async function startInjectHub(): Promise<{ hub: Hub; api: InjectClient; cleanup(): Promise<void> }> {
  const dataDir = tempDir('gridhub-routes-');
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir,
      'log.level': process.env.GRIDHUB_TEST_LOG ?? 'silent',
      'auth.bootstrapAdminToken': ADMIN_TOKEN,
      'nodeRed.enabled': false,
    },
  });
  const hub = new Hub(config, createLogger(config.log.level));
  await hub.start({ listen: false });
  return {
    hub,
    api: new InjectClient(hub, ADMIN_TOKEN),
    async cleanup() {
      await hub.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
