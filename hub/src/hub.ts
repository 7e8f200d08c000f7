import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildApi, type ReadinessCheck } from './api/app.ts';
import { AccessService } from './auth/access.ts';
import { Bus } from './bus.ts';
import type { Config } from './config/schema.ts';
import { ModelCatalogue } from './devices/models/index.ts';
import { DeviceRegistry } from './devices/registry.ts';
import { GridDirectory } from './grid/grid-directory.ts';
import type { Logger } from './logger.ts';
import { Metrics } from './metrics.ts';
import { Store } from './store/store.ts';

const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** A part of the hub with an inert constructor; the root starts them in order and stops them in reverse. */
export interface Service {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface HubAddresses {
  http: string;
  mqtt: number;
}

/**
 * The composition root: builds every service from config and logger (never globals), starts them
 * in order and stops them in reverse.
 */
export class Hub {
  readonly metrics = new Metrics();
  readonly store: Store;
  readonly bus: Bus;
  readonly models = new ModelCatalogue();
  private readonly started: Service[] = [];
  private api: FastifyInstance | undefined;
  /** set on first start of an empty store when no token was configured; print it once */
  bootstrapToken: string | undefined;

  constructor(
    readonly config: Config,
    readonly logger: Logger,
  ) {
    this.store = new Store(config.dataDir, logger.child({ module: 'store' }));
    this.bus = new Bus(logger.child({ module: 'bus' }));
  }

  get http(): FastifyInstance {
    if (!this.api) throw new Error('hub is not started');
    return this.api;
  }

  get addresses(): HubAddresses {
    const address = this.http.server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return {
      http: `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${address.port}`,
      mqtt: 0,
    };
  }

  private readonly steps: Service[] = [
    { name: 'store', start: () => this.store.start(), stop: () => this.store.stop() },
    {
      name: 'bootstrap-admin',
      start: async () => {
        this.bootstrapToken = await new AccessService(this.store.db).bootstrapAdmin(
          this.config.auth.bootstrapAdminToken,
        );
      },
      stop: async () => {},
    },
    {
      name: 'http',
      start: async () => {
        const db = this.store.db;
        const readiness: ReadinessCheck[] = [{ name: 'store', ready: () => this.store.isOpen }];
        this.api = await buildApi({
          logger: this.logger,
          db,
          access: new AccessService(db),
          registry: new DeviceRegistry(db, this.models, this.bus),
          models: this.models,
          directory: new GridDirectory(db),
          metrics: this.metrics,
          readiness,
          bodyLimitBytes: this.config.http.bodyLimitBytes,
          trustProxy: this.config.http.trustProxy,
          version: VERSION,
        });
        await this.api.listen({ host: this.config.http.host, port: this.config.http.port });
      },
      stop: async () => {
        await this.api?.close();
      },
    },
  ];

  async start(): Promise<void> {
    for (const step of this.steps) {
      this.logger.debug({ service: step.name }, 'starting');
      try {
        await step.start();
      } catch (err) {
        this.logger.error({ err, service: step.name }, 'start failed; stopping what was started');
        await this.stop();
        throw err;
      }
      this.started.push(step);
    }
  }

  async stop(): Promise<void> {
    while (this.started.length > 0) {
      const step = this.started.pop() as Service;
      try {
        await step.stop();
      } catch (err) {
        this.logger.error({ err, service: step.name }, 'stop failed');
      }
    }
  }
}
