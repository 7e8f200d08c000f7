import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { AlertService } from './alerts/alert-service.ts';
import { NotifyService } from './alerts/notify-service.ts';
import { AccessService } from './auth/access.ts';
import { SessionService } from './auth/sessions.ts';
import { DeviceDirectory } from './broker/device-directory.ts';
import { MqttBroker } from './broker/mqtt-broker.ts';
import { createBrokerPersistence } from './broker/persistence/index.ts';
import { Bus } from './bus.ts';
import { type ClusterNode, clusterNodeOf } from './cluster/cluster-wiring.ts';
import { NodeRedStep, rulesDuties, type WorkNode, workNode } from './cluster/work-node.ts';
import { CommandService } from './commands/command-service.ts';
import { alertOptions, ingestOptions, journalOptions, staffOutputOptions } from './config/options.ts';
import type { Config } from './config/schema.ts';
import { ModelCatalogue } from './devices/models/index.ts';
import { DeviceRegistry } from './devices/registry.ts';
import { MaintenanceVisits } from './elevators/maintenance-visits.ts';
import { apiDeps, buildApi } from './hub-api.ts';
import { Ingest } from './ingest/ingest.ts';
import { Journal } from './ingest/journal.ts';
import { lifeSafetyClassifier } from './ingest/life-safety.ts';
import { IngressService } from './ingress/ingress.ts';
import type { Logger } from './logger.ts';
import { Metrics } from './metrics.ts';
import type { NodeRedSupervisor } from './node-red/supervisor.ts';
import { OutboundPolicy } from './outbound/address-policy.ts';
import { HubOutput } from './output/hub-output.ts';
import { PolicyService } from './policies/policy-service.ts';
import { Presence } from './presence/presence.ts';
import { RulesEngine } from './rules/engine.ts';
import { defaultRules } from './rules/records/index.ts';
import { StorageHealth } from './store/storage-health.ts';
import { Store } from './store/store.ts';
import { TicketRouting } from './tickets/routing.ts';
import { TicketScheduler } from './tickets/ticket-scheduler.ts';
import { TicketService } from './tickets/ticket-service.ts';
import { hubMeasures } from './timeseries/hub-measures.ts';
import { InfluxSink } from './timeseries/influx-sink.ts';
import { LocalSeriesStore } from './timeseries/local-store.ts';
import { eventLine, telemetryLine } from './timeseries/points.ts';
import { SeriesPipeline } from './timeseries/series-pipeline.ts';

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
  mqttTls: number | undefined;
}

/**
 * The composition root: builds every service from config and logger (never globals), starts them
 * in order and stops them in reverse.
 */
export class Hub {
  readonly metrics = new Metrics();
  readonly store: Store;
  readonly storage: StorageHealth;
  readonly journal: Journal;
  readonly bus: Bus;
  readonly models = new ModelCatalogue();
  readonly directory: DeviceDirectory;
  readonly ingest: Ingest;
  readonly presence: Presence;
  readonly broker: MqttBroker;
  readonly access: AccessService;
  readonly policies: PolicyService;
  readonly tickets: TicketService;
  readonly rules: RulesEngine;
  readonly scheduler: TicketScheduler;
  readonly alerts: AlertService;
  /** hub output: MQTT staff topics, the console's alert stream, group webhooks (fed by the bus) */
  readonly output: HubOutput;
  readonly visits: MaintenanceVisits;
  readonly notify: NotifyService;
  readonly commands: CommandService;
  readonly sessions: SessionService;
  readonly influx: InfluxSink | undefined;
  readonly series: SeriesPipeline;
  readonly localSeries: LocalSeriesStore;
  /** CTWing, OneNET and ChirpStack integrations (issue 20) */
  readonly ingress: IngressService;
  readonly cluster: ClusterNode | undefined; // cluster mode, issue 19 (cluster/cluster-wiring.ts)
  private registry: DeviceRegistry | undefined;
  private readonly started: Service[] = [];
  private api: FastifyInstance | undefined;
  readonly node: WorkNode; // this process among the nodes sharing the store (issue 19)
  private readonly nodeRedStep = new NodeRedStep(this);
  /** the supervised Node-RED process, when enabled (and this node leads the cluster) */
  get nodeRed(): NodeRedSupervisor | undefined {
    return this.nodeRedStep.supervisor;
  }
  /** set on first start of an empty store when no token was configured; print it once */
  bootstrapToken: string | undefined;

  constructor(
    readonly config: Config,
    readonly logger: Logger,
  ) {
    const child = (module: string) => logger.child({ module });
    this.store = new Store(config.dataDir, child('store'), config.store.url);
    this.node = workNode(this.store, config);
    this.storage = new StorageHealth(this.metrics, child('storage'));
    this.bus = new Bus(child('bus'));
    this.journal = new Journal(journalOptions(config), this.storage, this.metrics, child('journal'));
    this.access = new AccessService(this.store, this.bus);
    this.sessions = new SessionService(this.store, this.access, config.auth);
    this.cluster = clusterNodeOf(this, child('cluster'));
    this.directory = new DeviceDirectory(this.store, config.auth.deviceAuthCacheSeconds * 1000);
    this.policies = new PolicyService(this.store, child('policies'));
    const withInflux = config.influx.url !== '';
    const lifeSafety = lifeSafetyClassifier(this.models, (key, at) => this.policies.value(key, at));
    this.ingest = new Ingest(
      this.store,
      this.models,
      this.journal,
      this.bus,
      {
        lifeSafety,
        ...(withInflux
          ? {
              lines: (m) => {
                const line = 'event' in m ? eventLine(m) : telemetryLine(m);
                return line ? [line] : [];
              },
            }
          : {}),
      },
      this.storage,
      this.metrics,
      child('ingest'),
      ingestOptions(config),
    );
    this.presence = new Presence(
      this.store,
      this.models,
      this.bus,
      this.metrics,
      child('presence'),
      config.presence,
    );
    this.tickets = new TicketService(
      this.store,
      this.policies,
      new TicketRouting(this.policies),
      this.bus,
      child('tickets'),
    );
    this.scheduler = new TicketScheduler(this.tickets, config.tickets.schedulerTickMs, child('scheduler'));
    this.visits = new MaintenanceVisits(this.store, this.bus, child('maintenance'));
    this.rules = new RulesEngine({
      rules: defaultRules({
        maintenanceCheckMs: config.tickets.maintenanceCheckMinutes * 60_000,
        // stay-back clocks of site outages are stored ticket times, checked like the ticket deadlines
        outageCheckMs: config.tickets.schedulerTickMs,
      }),
      models: this.models.models,
      bus: this.bus,
      store: this.store,
      policies: this.policies,
      tickets: this.tickets,
      // bound late: the alerts service is built after the broker it is reached through
      alerts: { resolveRestored: (...args) => this.alerts.actions.resolveRestored(...args) },
      presence: this.presence,
      visits: this.visits,
      metrics: this.metrics,
      logger: child('rules'),
      backlog: {
        pending: (after, limit) => this.ingest.pending(after, limit),
        flushDone: () => this.ingest.flushSettled(),
      },
      storage: this.storage,
      cluster: rulesDuties(this, child('cluster')),
      options: { maxOrdinaryBacklog: config.ingest.maxRulesBacklog },
    });
    // Once the disk takes writes again: store what alerts held in memory, then re-run what waited.
    this.storage.onRecovered(() => {
      this.alerts
        .persistHeld()
        .catch((err: unknown) => this.logger.error({ err }, 'storing held alerts failed'))
        .finally(() => this.rules.replayBacklog());
    });
    this.commands = new CommandService(
      this.store,
      this.models,
      {
        publishCommand: (deviceId, payload) => this.broker.publishCommand(deviceId, payload),
        sessionQueue: (clientId) => this.broker.sessionQueue(clientId),
      },
      this.bus,
      this.ingest.commissioning,
      this.metrics,
      child('commands'),
    );
    this.broker = new MqttBroker({
      config: config.mqtt,
      directory: this.directory,
      access: this.access,
      ingest: this.ingest,
      presence: this.presence,
      bus: this.bus,
      storage: this.storage,
      metrics: this.metrics,
      logger: child('broker'),
      persistence: () =>
        this.cluster?.brokerState.persistence() ??
        createBrokerPersistence(config.mqtt, config.dataDir, this.metrics, child('broker-sessions')),
      cluster: this.cluster?.brokerOptions,
      commandAcks: this.commands,
      // bound late: the alerts service is built after the broker it publishes through
      staffRequests: { mayPublish: (principal, topic) => this.alerts.mayPublish(principal, topic) },
    });
    this.alerts = new AlertService(
      this.store,
      this.policies,
      this.bus,
      this.broker,
      this.metrics,
      child('alerts'),
      alertOptions(config, () => this.publicUrl(), this.storage),
      this.node.id,
    );
    this.ingress = new IngressService({
      config,
      store: this.store,
      ingest: this.ingest,
      directory: this.directory,
      models: this.models,
      bus: this.bus,
      metrics: this.metrics,
      outbound: new OutboundPolicy(config.outbound.allow),
      logger: child('ingress'),
      commands: this.commands,
    });
    // Commands to devices behind CTWing, OneNET or ChirpStack go through their platform (issue 20).
    this.commands.carrier = this.ingress.carrier;
    this.notify = new NotifyService(this.store, this.alerts.deliverer, this.bus, this.metrics);
    const staff = staffOutputOptions(config, lifeSafety);
    this.output = new HubOutput(this.bus, this.broker, this.alerts, this.metrics, child('output'), staff);
    this.influx = withInflux
      ? new InfluxSink(config.influx, this.journal, this.metrics, child('influx'))
      : undefined;
    // On PostgreSQL the series tables live in the main database (a node keeps none of its own).
    this.localSeries = LocalSeriesStore.in(
      config.dataDir,
      config.series,
      child('series-store'),
      this.store.dialect === 'postgres' ? () => this.store.db as unknown as Kysely<unknown> : undefined,
    );
    this.localSeries.storage = this.storage;
    this.presence.storage = this.storage;
    this.series = new SeriesPipeline(
      this.bus,
      this.localSeries,
      this.influx ? [this.influx] : [],
      this.journal,
      child('series'),
      { source: () => hubMeasures(this.store.db), everyMs: 60_000 },
    );
    this.ingest.consumedUpTo = () => this.series.durableSeq;
  }

  /** Where people reach the hub, for links in messages. */
  publicUrl(): string {
    return (
      this.config.http.publicUrl ||
      (this.api ? this.addresses.http : `http://127.0.0.1:${this.config.http.port}`)
    );
  }

  get http(): FastifyInstance {
    if (!this.api) throw new Error('hub is not started');
    return this.api;
  }

  get addresses(): HubAddresses {
    const address = this.http.server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const shown = host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host;
    return { http: `http://${shown}:${address.port}`, mqtt: this.broker.port, mqttTls: this.broker.tlsPort };
  }

  private readonly steps: Service[] = [
    // First: a cluster without PostgreSQL or without Redis refuses to start before anything runs.
    { name: 'cluster', start: async () => this.cluster?.start(), stop: async () => this.cluster?.stop() },
    { name: 'store', start: () => this.store.start(), stop: () => this.store.stop() },
    {
      name: 'storage-health',
      start: async () => {
        this.storage.probe('store', () => this.store.writeProbe());
        this.storage.probe('series', () => this.localSeries.flush());
        this.storage.start();
      },
      stop: async () => this.storage.stop(),
    },
    { name: 'journal', start: () => this.journal.start(), stop: () => this.journal.stop() },
    {
      name: 'bootstrap-admin',
      start: async () => {
        this.bootstrapToken = await this.access.bootstrapAdmin(this.config.auth.bootstrapAdminToken);
      },
      stop: async () => {},
    },
    { name: 'policies', start: () => this.policies.start(), stop: () => this.policies.stop() },
    // Output first, so nothing the services announce at start is missed.
    { name: 'output', start: () => this.output.start(), stop: () => this.output.stop() },
    { name: 'tickets', start: () => this.tickets.start(), stop: () => this.tickets.stop() },
    { name: 'maintenance', start: () => this.visits.start(), stop: () => this.visits.stop() },
    { name: 'alerts', start: () => this.alerts.start(), stop: () => this.alerts.stop() },
    // The series store catches up from the journal before the rules replay what was not done.
    { name: 'series', start: () => this.series.start(), stop: () => this.series.stop() },
    { name: 'rules', start: () => this.rules.start(), stop: () => this.rules.stop() },
    { name: 'ticket-scheduler', start: () => this.scheduler.start(), stop: () => this.scheduler.stop() },
    { name: 'ingest', start: () => this.ingest.start(), stop: () => this.ingest.stop() },
    { name: 'presence', start: () => this.presence.start(), stop: () => this.presence.stop() },
    {
      name: 'broker',
      start: () => this.broker.start(),
      stop: () => this.broker.stop().then(() => this.directory.clear()),
    },
    { name: 'commands', start: () => this.commands.start(), stop: () => this.commands.stop() },
    {
      name: 'ingress',
      start: async () => {
        this.registry = new DeviceRegistry(this.store.db, this.models, this.bus, this.presence);
        await this.ingress.start(this.registry);
      },
      stop: () => this.ingress.stop(),
    },
    {
      name: 'http',
      start: async () => {
        this.api = await buildApi(apiDeps(this, this.registry, VERSION));
        if (!this.listening) {
          await this.api.ready();
          return;
        }
        this.broker.attachWebSocket(this.api.server);
        await this.api.listen({ host: this.config.http.host, port: this.config.http.port });
      },
      stop: async () => this.api?.close(),
    },
    this.nodeRedStep,
  ];

  /** false when started without sockets (route tests, the OpenAPI generator): no broker, no listening API */
  private listening = true;

  /**
   * Start every service in order. `{ listen: false }` starts the hub without opening a socket —
   * no broker, no Node-RED, an API that answers `inject()` only — for route tests and for reading
   * the served OpenAPI document (scripts/generate-clients.ts).
   */
  async start(options: { listen?: boolean } = {}): Promise<void> {
    this.listening = options.listen !== false;
    const offline = new Set(['broker', 'node-red']);
    for (const step of this.steps) {
      if (!this.listening && offline.has(step.name)) continue;
      this.logger.debug({ step: step.name }, 'starting');
      try {
        await step.start();
      } catch (err) {
        this.logger.error({ err, step: step.name }, 'start failed; stopping what was started');
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
        this.logger.error({ err, step: step.name }, 'stop failed');
      }
    }
  }
}
