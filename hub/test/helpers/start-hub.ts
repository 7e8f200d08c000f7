/**
 * Starting a real hub for tests and the benchmark, with no dependency on vitest: the benchmark runs
 * outside vitest, and importing vitest there fails ("Vitest failed to access its internal state").
 * Test files import `test-hub.ts`, which re-exports this module and adds helpers tied to vitest hooks.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.ts';
import { Hub } from '../../src/hub.ts';
import { createLogger } from '../../src/logger.ts';
import { dropTestStore, testStoreUrl } from './test-store.ts';

export const ADMIN_TOKEN = 'ghk_test-admin-token-0123456789abcdefghijklmnopqrstuv';

export interface TestHub {
  hub: Hub;
  url: string;
  dataDir: string;
  api: ApiClient;
  /** stop the hub; the data directory stays until `cleanup` */
  stop(): Promise<void>;
  cleanup(): Promise<void>;
}

export interface StartOptions {
  dataDir?: string;
  overrides?: Record<string, unknown>;
}

export function tempDir(prefix = 'gridhub-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A real hub on port 0 in a temp directory, with a known bootstrap admin token. */
export async function startTestHub(options: StartOptions = {}): Promise<TestHub> {
  const dataDir = options.dataDir ?? tempDir();
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir,
      // the `pg` project: a PostgreSQL database of this hub's own (helpers/test-store.ts)
      'store.url': await testStoreUrl(dataDir),
      'log.level': process.env.GRIDHUB_TEST_LOG ?? 'silent',
      'http.host': '127.0.0.1',
      'http.port': 0,
      'mqtt.host': '127.0.0.1',
      'mqtt.port': 0,
      'auth.bootstrapAdminToken': ADMIN_TOKEN,
      'nodeRed.enabled': false,
      // Tests' webhook receivers listen on loopback, which outbound HTTP refuses by default; the
      // security suite proves that default with `'outbound.allow': []`.
      'outbound.allow': ['127.0.0.1'],
      ...options.overrides,
    },
  });
  const hub = new Hub(config, createLogger(config.log.level));
  await hub.start();
  const url = hub.addresses.http;
  let stopped = false;
  const stop = async () => {
    if (!stopped) await hub.stop();
    stopped = true;
  };
  return {
    hub,
    url,
    dataDir,
    api: new ApiClient(url, ADMIN_TOKEN),
    stop,
    async cleanup() {
      await stop();
      if (!options.dataDir) {
        rmSync(dataDir, { recursive: true, force: true });
        await dropTestStore(dataDir);
      }
    },
  };
}

export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

/** How a request reaches the hub: HTTP over a socket, or fastify's inject() (inject-hub.ts). */
export type Transport = (
  method: string,
  url: string,
  headers: Record<string, string>,
  body: string | undefined,
) => Promise<{ status: number; type: string; text: string; headers: Headers }>;

const overHttp =
  (baseUrl: string): Transport =>
  async (method, url, headers, body) => {
    const res = await fetch(`${baseUrl}${url}`, { method, headers, body });
    return {
      status: res.status,
      type: res.headers.get('content-type') ?? '',
      text: await res.text(),
      headers: res.headers,
    };
  };

/** Talks to the hub as the console and integrators do: over HTTP to the real server by default. */
export class ApiClient {
  constructor(
    readonly baseUrl: string,
    readonly token?: string,
    private readonly transport: Transport = overHttp(baseUrl),
  ) {}

  as(token: string): ApiClient {
    return new ApiClient(this.baseUrl, token, this.transport);
  }

  async request<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = {};
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let payload: string | undefined;
    if (body !== undefined) {
      headers['content-type'] = contentType;
      payload = typeof body === 'string' ? body : JSON.stringify(body);
    }
    const res = await this.transport(method, path, headers, payload);
    let parsed: unknown = res.text;
    if (res.type.includes('json') && res.text) parsed = JSON.parse(res.text);
    return { status: res.status, body: parsed as T, headers: res.headers };
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
