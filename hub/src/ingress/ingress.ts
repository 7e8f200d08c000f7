import path from 'node:path';
import type { DeviceDirectory } from '../broker/device-directory.ts';
import type { Bus } from '../bus.ts';
import type { Config } from '../config/schema.ts';
import type { ModelCatalogue } from '../devices/models/index.ts';
import type { DeviceRegistry } from '../devices/registry.ts';
import type { Ingest } from '../ingest/ingest.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { OutboundPolicy } from '../outbound/address-policy.ts';
import type { Store } from '../store/store.ts';
import { ChirpstackClients } from './chirpstack.ts';
import { IdentityDirectory } from './identity-directory.ts';
import { IngressGate, type PlatformCommandSink } from './ingress-gate.ts';
import { IntegrationService } from './integration-service.ts';
import { IntegrationStore } from './integration-store.ts';
import { PlatformCarrier } from './platform-commands.ts';
import { SecretBox } from './secret-box.ts';

export interface IngressDeps {
  config: Config;
  store: Store;
  ingest: Ingest;
  directory: DeviceDirectory;
  models: ModelCatalogue;
  bus: Bus;
  metrics: Metrics;
  outbound: OutboundPolicy;
  logger: Logger;
  commands?: PlatformCommandSink;
}

/**
 * Devices that do not dial the broker (issue 20), as one service for the composition root: the
 * integrations (data), the gate into ingest, and the ChirpStack clients. Built inert; `start`
 * opens the key file, loads the integrations and connects to the ChirpStack brokers.
 */
export class IngressService {
  readonly repo: IntegrationStore;
  readonly identities: IdentityDirectory;
  readonly gate: IngressGate;
  readonly chirpstack: ChirpstackClients;
  /** commands to platform devices (the command service's carrier) */
  readonly carrier: PlatformCarrier;
  private service: IntegrationService | undefined;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(private readonly deps: IngressDeps) {
    this.repo = new IntegrationStore(deps.store);
    this.identities = new IdentityDirectory(deps.store, deps.directory);
    this.gate = new IngressGate(
      deps.ingest,
      this.identities,
      deps.models,
      this.repo,
      deps.metrics,
      deps.logger,
    );
    this.gate.commands = deps.commands;
    this.chirpstack = new ChirpstackClients(
      this.gate,
      deps.outbound,
      deps.config.ingress.chirpstackReconnectMs,
      deps.logger.child({ part: 'chirpstack' }),
    );
    this.carrier = new PlatformCarrier(
      () => this.service,
      this.gate,
      this.chirpstack,
      deps.models,
      deps.store,
      deps.outbound,
      deps.config.ingress.commandRetryMs,
    );
  }

  get integrations(): IntegrationService {
    if (!this.service) throw new Error('ingress is not started');
    return this.service;
  }

  async start(registry: DeviceRegistry): Promise<void> {
    const c = this.deps.config;
    const box = SecretBox.fromFile(c.ingress.secretKeyFile || path.join(c.dataDir, 'ingress.key'));
    this.service = new IntegrationService(
      this.deps.store,
      this.repo,
      box,
      this.deps.models,
      registry,
      this.gate,
      this.deps.outbound,
    );
    this.service.listener = this.chirpstack;
    await this.service.start();
    const { bus } = this.deps;
    const service = this.service;
    // Our own changes are taken already; one from another node (cluster relay) is reloaded from the store.
    const own = new WeakSet<object>();
    service.changed = (integrationId) => {
      const change = { integrationId };
      own.add(change);
      bus.emit('integration.changed', change);
    };
    this.unsubscribe.push(
      bus.on('device.changed', (c) => this.identities.invalidate(c.deviceId)),
      bus.on('integration.changed', async (c) => {
        if (!own.has(c)) await service.reload(c.integrationId);
      }),
    );
    this.chirpstack.start(this.service.list());
  }

  async stop(): Promise<void> {
    for (const off of this.unsubscribe.splice(0)) off();
    await this.chirpstack.stop();
    await this.service?.stop();
    this.identities.clear();
  }
}
