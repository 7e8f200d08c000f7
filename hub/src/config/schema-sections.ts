import Type from 'typebox';

/** Config sections of the hub's optional and access parts (config/schema.ts composes them). */

export const InfluxConfigSchema = Type.Object(
  {
    url: Type.String({
      default: '',
      description: 'InfluxDB (2.x/3.x write API) URL; empty = no InfluxDB.',
    }),
    token: Type.String({ default: '', description: 'InfluxDB API token.' }),
    org: Type.String({ default: 'gridhub', description: 'InfluxDB organisation.' }),
    bucket: Type.String({ default: 'gridhub', description: 'InfluxDB bucket.' }),
    batchSize: Type.Integer({ default: 5000, minimum: 1, description: 'Points per write request.' }),
    flushMs: Type.Integer({
      default: 1000,
      minimum: 10,
      description: 'Longest a point waits before it is sent.',
    }),
    spoolMaxPoints: Type.Integer({
      default: 2_000_000,
      minimum: 1000,
      description:
        'Bound of the on-disk spool that holds points while InfluxDB is unreachable; beyond it the oldest are dropped.',
    }),
    timeoutMs: Type.Integer({
      default: 10_000,
      minimum: 100,
      description: 'Time limit of one write request.',
    }),
  },
  { default: {}, additionalProperties: false },
);

export const AuthConfigSchema = Type.Object(
  {
    bootstrapAdminToken: Type.String({
      default: '',
      description:
        'API token for the first admin, used only when the store has no users; empty = generate one and print it once.',
    }),
    metricsToken: Type.String({
      default: '',
      description:
        "Bearer token a Prometheus server presents to read /metrics (compared in constant time); empty = only an admin's API token reads /metrics. /metrics is never anonymous: its counters name integrations and show alert and error traffic.",
    }),
    deviceAuthCacheSeconds: Type.Integer({
      default: 300,
      minimum: 0,
      description: 'How long a verified device credential is cached (reconnect storms cost little CPU).',
    }),
    sessionHours: Type.Number({
      default: 12,
      exclusiveMinimum: 0,
      description: 'How long a console sign-in lasts before the user signs in again.',
    }),
    loginMaxFailures: Type.Integer({
      default: 5,
      minimum: 1,
      description: 'Failed sign-ins for one user name from one address before it is locked for 15 minutes.',
    }),
    loginUserMaxFailures: Type.Integer({
      default: 20,
      minimum: 1,
      description:
        'Failed sign-ins for one user name from all addresses within 15 minutes before the name is locked for addresses it never signed in from (see loginUserLockSeconds).',
    }),
    loginUserLockSeconds: Type.Integer({
      default: 300,
      minimum: 1,
      description:
        'How long a user name stays locked after loginUserMaxFailures; short on purpose, so an attacker cannot lock a person out for long.',
    }),
  },
  { default: {}, additionalProperties: false },
);

export const NodeRedConfigSchema = Type.Object(
  {
    enabled: Type.Boolean({
      default: true,
      description:
        'Start Node-RED beside the hub as a supervised child process (`npm start -- --no-node-red` skips it).',
    }),
    host: Type.String({ default: '127.0.0.1', description: 'Address the Node-RED editor listens on.' }),
    port: Type.Integer({
      default: 1880,
      minimum: 0,
      maximum: 65535,
      description: 'Port of the Node-RED editor and its HTTP endpoints.',
    }),
    flowFile: Type.String({
      default: '',
      description:
        'The Node-RED flow file; empty = flows/flows.json (the default flows, edited in place by the editor).',
    }),
    credentialSecret: Type.String({
      default: '',
      description:
        'Key that encrypts flow credentials in flows_cred.json; empty = generate one, keep it in the store.',
    }),
    flowUser: Type.String({
      default: '',
      description:
        'Person the default flows act as (e.g. a street-duty account); the hub issues that person a fresh API token for Node-RED at each start. Empty = flows need credentials set in the editor.',
    }),
    streetDutyReadOnly: Type.Boolean({
      default: false,
      description:
        'Let street-duty accounts sign in to the Node-RED editor read-only (view flows, no deploy). Off = the editor is for admins only.',
    }),
    restartDelayMs: Type.Integer({
      default: 2000,
      minimum: 100,
      description: 'First delay before restarting a crashed Node-RED (doubles up to a minute).',
    }),
  },
  { default: {}, additionalProperties: false },
);

export const ClusterConfigSchema = Type.Object(
  {
    redisUrl: Type.String({
      default: '',
      pattern: '^$|^rediss?://',
      description:
        'Cluster mode (issue 19): redis://[:password@]host:6379[/db] shared by every node for broker state (subscriptions, retained messages, offline QoS 1 queues, wills), the cross-node event relay and the node registry; needs a PostgreSQL store.url shared by the same nodes. Empty = one embedded node, as before.',
    }),
    nodeId: Type.String({
      default: '',
      pattern: '^$|^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$',
      description:
        'This node’s name in the cluster (GET /api/v1/cluster, the `node` label of /metrics); empty = host name and HTTP port (host-8080), or host name and a random suffix when the port is 0. Set it to keep the name across restarts on changing ports.',
    }),
    heartbeatMs: Type.Integer({
      default: 2000,
      minimum: 100,
      maximum: 60_000,
      description:
        'How often a node says it is alive (node registry and the broker heartbeat). A node silent for 3 beats is dead: it leaves GET /api/v1/cluster, and the wills of its MQTT clients are published by a survivor within 7 beats of its death.',
    }),
  },
  { default: {}, additionalProperties: false },
);
