import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The hub's Prometheus metrics, one registry per hub instance (no global default registry), so
 * tests that run two hubs in one process never mix their counts.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly httpRequests = new Counter({
    name: 'gridhub_http_requests_total',
    help: 'HTTP requests by route and status code',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });

  readonly errors = new Counter({
    name: 'gridhub_errors_total',
    help: 'Refusals and errors by stable error code (REST and MQTT alike)',
    labelNames: ['code', 'source'] as const,
    registers: [this.registry],
  });

  readonly mqttConnections = new Gauge({
    name: 'gridhub_mqtt_connections',
    help: 'Open MQTT connections by kind of client',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly mqttMessages = new Counter({
    name: 'gridhub_mqtt_messages_total',
    help: 'MQTT messages accepted from devices, by topic kind',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly devicesOnline = new Gauge({
    name: 'gridhub_devices_online',
    help: 'Devices currently online',
    registers: [this.registry],
  });

  readonly mqttThrottled = new Gauge({
    name: 'gridhub_mqtt_messages_held',
    help: 'Messages held back by per-connection rate limits right now (bounded by mqtt.maxQueuedMessages)',
    registers: [this.registry],
  });

  readonly staffOutputQueued = new Gauge({
    name: 'gridhub_staff_output_queued',
    help: 'Ordinary hub messages (device events, presence) waiting to be published to staff subscribers',
    registers: [this.registry],
  });

  readonly staffOutputDropped = new Counter({
    name: 'gridhub_staff_output_dropped_total',
    help: 'Ordinary hub messages dropped unpublished because mqtt.staffQueueMessages were waiting (GH_ERR_STAFF_OUTPUT_DROPPED), by topic',
    labelNames: ['topic'] as const,
    registers: [this.registry],
  });

  readonly mqttSessionDropped = new Counter({
    name: 'gridhub_mqtt_session_dropped_total',
    help: 'Messages dropped from a persistent session queue that reached mqtt.sessionQueueLimit',
    registers: [this.registry],
  });

  readonly mqttSessionWrites = new Counter({
    name: 'gridhub_mqtt_session_writes_total',
    help: 'Rows written to the broker session file (data/broker.sqlite), and failed flushes',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly ingressMessages = new Counter({
    name: 'gridhub_ingress_messages_total',
    help: 'Platform messages (OneNET, CTWing, ChirpStack) by integration and outcome (accepted, duplicate, or an error code)',
    labelNames: ['integration', 'kind', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly deviceCommands = new Counter({
    name: 'gridhub_device_commands_total',
    help: 'Device commands by type and the state they reached (queued, sent, acknowledged, done, failed, expired)',
    labelNames: ['type', 'state'] as const,
    registers: [this.registry],
  });

  readonly alertDeliveries = new Counter({
    name: 'gridhub_alert_deliveries_total',
    help: 'Alert delivery attempts by channel and result',
    labelNames: ['channel', 'result'] as const,
    registers: [this.registry],
  });

  readonly seriesPoints = new Counter({
    name: 'gridhub_series_points_total',
    help: 'Time-series points by sink and outcome (spooled, written, rejected, dropped-spool-full)',
    labelNames: ['sink', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly ingestLatency = new Histogram({
    name: 'gridhub_ingest_seconds',
    help: 'Time from broker receipt to a typed event on the bus',
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
    registers: [this.registry],
  });

  readonly storageDegraded = new Gauge({
    name: 'gridhub_storage_degraded',
    help: '1 while a disk refuses writes (GH_ERR_STORAGE_FULL / GH_ERR_STORAGE_IO), else 0',
    registers: [this.registry],
  });

  readonly journalBatch = new Histogram({
    name: 'gridhub_journal_commit_seconds',
    help: 'Time from a device message arriving to its group commit being on disk (its PUBACK waits for it)',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
    registers: [this.registry],
  });

  readonly rulesBacklog = new Gauge({
    name: 'gridhub_rules_backlog',
    help: 'Messages waiting for the rules engine, by lane',
    labelNames: ['lane'] as const,
    registers: [this.registry],
  });

  readonly rulesClaimed = new Counter({
    name: 'gridhub_rules_claims_total',
    help: 'Device events whose rules this node did not run because another node sharing the store ran them (elsewhere) or was running them (waiting)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly rulesLatency = new Histogram({
    name: 'gridhub_rules_seconds',
    help: 'Time from broker receipt to the rules having run, by lane',
    labelNames: ['lane'] as const,
    buckets: [0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'gridhub_' });
  }
}
