import Type from 'typebox';
import {
  AuthConfigSchema,
  ClusterConfigSchema,
  InfluxConfigSchema,
  NodeRedConfigSchema,
} from './schema-sections.ts';

/**
 * The one configuration schema. Every key has a description and a default; environment variable
 * names (GRIDHUB_HTTP_PORT …) and the README table are derived from it, never written by hand.
 */
export const ConfigSchema = Type.Object(
  {
    dataDir: Type.String({
      default: 'data',
      minLength: 1,
      description: 'Directory for the SQLite store, the time-series spool and Node-RED user data.',
    }),
    store: Type.Object(
      {
        url: Type.String({
          default: '',
          pattern: '^$|^postgres(ql)?://',
          description:
            'Where tickets, alerts, devices, audit and series aggregates are kept: empty = the embedded SQLite file dataDir/gridhub.sqlite; postgres://user:password@host:5432/database = PostgreSQL 15 or newer (the database must exist; the hub creates its tables).',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    log: Type.Object(
      {
        level: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
          default: 'info',
          description: 'Log level (pino).',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    http: Type.Object(
      {
        host: Type.String({ default: '0.0.0.0', description: 'Address the HTTP API and console listen on.' }),
        port: Type.Integer({
          default: 8080,
          minimum: 0,
          maximum: 65535,
          description: 'HTTP port for the API, console and MQTT over WebSocket (0 = any free port).',
        }),
        trustProxy: Type.Boolean({
          default: false,
          description: 'Trust X-Forwarded-* headers (set when behind a reverse proxy that terminates TLS).',
        }),
        publicUrl: Type.String({
          default: '',
          description:
            'Base URL people reach the hub at (for links in alert messages); empty = the listen address.',
        }),
        bodyLimitBytes: Type.Integer({
          default: 8 * 1024 * 1024,
          minimum: 1024,
          description:
            'Largest accepted body of the import routes (device CSV import, community import); every other route takes http.jsonBodyLimitBytes.',
        }),
        jsonBodyLimitBytes: Type.Integer({
          default: 256 * 1024,
          minimum: 1024,
          description:
            'Largest accepted request body on every route but the imports; a larger one is refused with 413 GH_ERR_PAYLOAD_TOO_LARGE before it is read.',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    mqtt: Type.Object(
      {
        host: Type.String({ default: '0.0.0.0', description: 'Address the MQTT broker listens on.' }),
        port: Type.Integer({
          default: 1883,
          minimum: 0,
          maximum: 65535,
          description: 'MQTT over TCP port (0 = any free port).',
        }),
        websocketPath: Type.String({
          default: '/mqtt',
          pattern: '^/',
          description: 'Path of MQTT over WebSocket on the HTTP server.',
        }),
        tlsPort: Type.Integer({
          default: 8883,
          minimum: 0,
          maximum: 65535,
          description: 'MQTT over TLS port; used only when tlsCertFile and tlsKeyFile are set.',
        }),
        tlsCertFile: Type.String({ default: '', description: 'PEM certificate file for MQTT over TLS.' }),
        tlsKeyFile: Type.String({ default: '', description: 'PEM private key file for MQTT over TLS.' }),
        maxPayloadBytes: Type.Integer({
          default: 16 * 1024,
          minimum: 256,
          description:
            'Largest accepted device payload; larger publishes are refused (GH_ERR_PAYLOAD_TOO_LARGE).',
        }),
        ratePerSecond: Type.Number({
          default: 50,
          exclusiveMinimum: 0,
          description: 'Sustained publishes per second allowed per connection before throttling.',
        }),
        rateBurst: Type.Integer({
          default: 200,
          minimum: 1,
          description: 'Publishes a connection may send in a burst above its sustained rate.',
        }),
        floodDisconnectSeconds: Type.Number({
          default: 10,
          exclusiveMinimum: 0,
          description: 'A connection throttled without pause for this long is disconnected.',
        }),
        maxBufferedBytes: Type.Integer({
          default: 8 * 1024 * 1024,
          minimum: 64 * 1024,
          description:
            'A client whose unread output (bytes the hub sent that it has not read) exceeds this is disconnected (GH_ERR_SLOW_CONSUMER); a persistent session keeps its QoS 1 queue meanwhile.',
        }),
        staffQueueMessages: Type.Integer({
          default: 10_000,
          minimum: 10,
          description:
            'Ordinary hub output (device events, presence) waiting to be published to staff subscribers; beyond it the oldest are dropped (GH_ERR_STAFF_OUTPUT_DROPPED). Alerts, tickets, life-safety events and person messages go at once and are never dropped.',
        }),
        maxQueuedMessages: Type.Integer({
          default: 10_000,
          minimum: 100,
          description: 'Bound on messages accepted by the broker but not yet processed by ingest.',
        }),
        persistence: Type.Enum(['sqlite', 'memory'], {
          default: 'sqlite',
          description:
            'Where the broker keeps persistent sessions (cleanSession=false: subscriptions, QoS 1 queues), retained messages and wills: sqlite = data/broker.sqlite, kept across restarts; memory = lost at every restart.',
        }),
        persistenceFlushMs: Type.Integer({
          default: 100,
          minimum: 1,
          maximum: 10_000,
          description:
            'How often session changes are written to data/broker.sqlite; a message acknowledged within this time is never written. What changed since the last write is lost if the process is killed (a graceful stop writes everything).',
        }),
        sessionQueueLimit: Type.Integer({
          default: 1000,
          minimum: 10,
          description:
            'Messages kept per persistent session while its client is away; beyond it the oldest are dropped (gridhub_mqtt_session_dropped_total).',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    presence: Type.Object(
      {
        timeScale: Type.Number({
          default: 1,
          exclusiveMinimum: 0,
          description:
            'Multiplies every model’s heartbeat interval + offline grace; below 1 for accelerated simulations and tests.',
        }),
        sweepMs: Type.Integer({
          default: 1000,
          minimum: 10,
          description: 'How often silent devices are checked against their offline deadline.',
        }),
        flushMs: Type.Integer({
          default: 5000,
          minimum: 10,
          description:
            'How often last-seen times are written to the store (online/offline changes are written at once).',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    ingest: Type.Object(
      {
        dedupeRetentionHours: Type.Number({
          default: 168,
          exclusiveMinimum: 0,
          description:
            'How long a device event id is remembered, so a redelivered QoS 1 event is not processed twice.',
        }),
        maxClockAheadHours: Type.Number({
          default: 24,
          exclusiveMinimum: 0,
          description:
            'A device timestamp further ahead of the hub clock than this is replaced by the receive time (GH_ERR_DEVICE_CLOCK, counted).',
        }),
        maxClockBehindDays: Type.Number({
          default: 30,
          exclusiveMinimum: 0,
          description:
            'A device timestamp older than this is replaced by the receive time (GH_ERR_DEVICE_CLOCK, counted).',
        }),
        maxJsonDepth: Type.Integer({
          default: 16,
          minimum: 2,
          description:
            'Deepest JSON nesting accepted in a device payload (GH_ERR_PAYLOAD_TOO_DEEP beyond it).',
        }),
        journalMaxBatch: Type.Integer({
          default: 2000,
          minimum: 1,
          description:
            'Most device messages in one group commit of the ingest journal (each commit is one fsync; PUBACKs wait for it).',
        }),
        maxRulesBacklog: Type.Integer({
          default: 20_000,
          minimum: 100,
          description:
            'Ordinary (not life-safety) messages the rules engine holds in memory; beyond it they wait in the journal and are read back in order.',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    ingress: Type.Object(
      {
        maxPushBytes: Type.Integer({
          default: 256 * 1024,
          minimum: 1024,
          description:
            'Largest platform push (OneNET, CTWing) accepted on /api/v1/ingress/…; larger ones are refused (GH_ERR_PAYLOAD_TOO_LARGE).',
        }),
        secretKeyFile: Type.String({
          default: '',
          description:
            'File holding the 32-byte key (Base64) that encrypts integration secrets the hub must use (OneNET token, ChirpStack password, command API secrets); empty = dataDir/ingress.key, generated once with mode 0600. Keep it out of store backups.',
        }),
        chirpstackReconnectMs: Type.Integer({
          default: 2000,
          minimum: 100,
          description: 'Delay before the hub reconnects to a ChirpStack broker it lost.',
        }),
        commandRetryMs: Type.Integer({
          default: 30_000,
          minimum: 100,
          description:
            'How long a command to a platform device waits before the hub asks the platform again when it could not be reached (network error, HTTP 5xx or 429, ChirpStack broker down); until the command expires.',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    tickets: Type.Object(
      {
        schedulerTickMs: Type.Integer({
          default: 1000,
          minimum: 10,
          description:
            'How often stored ticket deadlines are checked (a deadline that passed while the hub was down fires at start).',
        }),
        maintenanceCheckMinutes: Type.Number({
          default: 60,
          exclusiveMinimum: 0,
          description: 'How often elevators are checked for overdue maintenance visits.',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    alerts: Type.Object(
      {
        tickMs: Type.Integer({
          default: 500,
          minimum: 10,
          description: 'How often stored alert re-notification and escalation times are checked.',
        }),
        webhookTimeoutMs: Type.Integer({
          default: 5000,
          minimum: 100,
          description: 'Time limit of one webhook request.',
        }),
        webhookRetries: Type.Integer({
          default: 5,
          minimum: 1,
          description: 'Attempts per webhook message (network errors, 429 and 5xx are retried).',
        }),
        webhookRetryBaseMs: Type.Integer({
          default: 2000,
          minimum: 1,
          description: 'First retry delay; each further retry waits twice as long.',
        }),
        linkTtlHours: Type.Number({
          default: 24,
          exclusiveMinimum: 0,
          description: 'How long an acknowledgement link in a message stays valid.',
        }),
        linkSecret: Type.String({
          default: '',
          description: 'Key that signs acknowledgement links; empty = generated once and kept in the store.',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    outbound: Type.Object(
      {
        allow: Type.Array(Type.String({ minLength: 1 }), {
          default: [],
          description:
            'What outbound HTTP (webhooks, chat robots, notify) may reach besides public addresses: CIDRs (10.0.0.0/8, fd00::/8), single addresses or host names; comma-separated in the environment. Empty = public addresses only (no loopback, private, link-local, CGNAT, multicast or metadata addresses).',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    series: Type.Object(
      {
        rawRetentionHours: Type.Number({
          default: 48,
          exclusiveMinimum: 0,
          description: 'Local store: how long raw readings are kept.',
        }),
        minuteRetentionDays: Type.Number({
          default: 30,
          exclusiveMinimum: 0,
          description: 'Local store: how long 1-minute aggregates are kept.',
        }),
        hourRetentionDays: Type.Number({
          default: 1825,
          exclusiveMinimum: 0,
          description: 'Local store: how long hourly aggregates (and device events) are kept.',
        }),
        rawKeepaliveSeconds: Type.Number({
          default: 60,
          exclusiveMinimum: 0,
          description:
            'Local store: a raw value is stored when it changes, and at least this often when it does not.',
        }),
        flushMs: Type.Integer({
          default: 1000,
          minimum: 10,
          description: 'Local store: how often buffered readings are written.',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    influx: InfluxConfigSchema,
    auth: AuthConfigSchema,
    nodeRed: NodeRedConfigSchema,
    cluster: ClusterConfigSchema,
  },
  { default: {}, additionalProperties: false },
);

export type Config = Type.Static<typeof ConfigSchema>;
