import { readFileSync } from 'node:fs';
import type { Server as HttpServer, IncomingMessage } from 'node:http';
import { type AddressInfo, createServer, type Server as NetServer } from 'node:net';
import { Duplex } from 'node:stream';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { Aedes, type AedesPublishPacket, type Client, type PublishPacket, type Subscription } from 'aedes';
import { createWebSocketStream, WebSocketServer } from 'ws';
import type { AccessService } from '../auth/access.ts';
import type { Bus } from '../bus.ts';
import type { Config } from '../config/schema.ts';
import { fillTopic, parseDeviceTopic, TOPICS } from '../contract/topics.ts';
import type { ErrorCode } from '../errors.ts';
import type { Ingest } from '../ingest/ingest.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { Presence } from '../presence/presence.ts';
import { type ClientIdentity, forwardAllowed, publishAllowed, subscribeAllowed } from './acl.ts';
import type { DeviceDirectory } from './device-directory.ts';
import { FrameLimit, FrameTooLargeError } from './frame-limit.ts';
import type { GridPaths } from './grid-paths.ts';
import { TokenBucket } from './rate-limiter.ts';

interface ClientState {
  identity: ClientIdentity;
  bucket: TokenBucket;
  /** when this connection's messages started being held back; 0 when not throttled */
  throttledSince: number;
}

/** CONNACK return codes of MQTT 3.1.1 §3.2.2.3. */
const CONNACK_BAD_CREDENTIALS = 4;
const CONNACK_NOT_AUTHORIZED = 5;
const CONNACK_SERVER_UNAVAILABLE = 3;

function authError(message: string, returnCode: number) {
  return Object.assign(new Error(message), { returnCode }) as Error & { returnCode: never };
}

export interface BrokerDeps {
  config: Config['mqtt'];
  directory: DeviceDirectory;
  access: AccessService;
  ingest: Ingest;
  presence: Presence;
  gridPaths: GridPaths;
  bus: Bus;
  metrics: Metrics;
  logger: Logger;
}

/**
 * Aedes inside the hub: MQTT over TCP, over TLS when configured, and over WebSocket on the HTTP
 * server. The hooks are thin adapters (STYLE.md §6): identity from credentials at CONNECT, topic
 * ACLs, per-connection rate limits that hold messages back (so the socket is not read: back-pressure)
 * and a bound on all messages held; ingest runs in the publish hook.
 */
export class MqttBroker {
  private aedes: Aedes | undefined;
  private tcp: NetServer | undefined;
  private tls: TlsServer | undefined;
  private wss: WebSocketServer | undefined;
  private httpServer: HttpServer | undefined;
  private readonly states = new WeakMap<Client, ClientState>();
  private readonly clientsByDevice = new Map<string, Set<Client>>();
  private readonly unsubscribe: (() => void)[] = [];
  private held = 0;
  private stopping = false;
  private readonly log: Logger;

  constructor(private readonly deps: BrokerDeps) {
    this.log = deps.logger;
  }

  get listening(): boolean {
    return this.tcp?.listening === true && !this.stopping;
  }

  get port(): number {
    return (this.tcp?.address() as AddressInfo | null)?.port ?? 0;
  }

  get tlsPort(): number | undefined {
    return (this.tls?.address() as AddressInfo | null)?.port;
  }

  /** A frame this much larger than the payload limit is cut at the transport, before it is buffered. */
  private get frameLimit(): number {
    return this.deps.config.maxPayloadBytes * 4 + 1024;
  }

  private refuse(code: ErrorCode, fields: Record<string, unknown>, msg: string): void {
    this.deps.metrics.errors.inc({ code, source: 'mqtt' });
    this.deps.ingest.logLimited(
      `${String(fields.clientId ?? fields.deviceId)}:${code}`,
      { code, ...fields },
      msg,
    );
  }

  /** Every transport ends here: a frame-size guard in front of aedes' parser. */
  private accept(socket: Duplex, req?: IncomingMessage): void {
    const aedes = this.aedes;
    if (!aedes) {
      socket.destroy();
      return;
    }
    // TCP_NODELAY: an alert or PUBACK goes out at once instead of waiting, by Nagle's algorithm, for
    // the ACK of the previous small packet, which the client's delayed ACK holds back ≈40 ms (quiet
    // panic → alert p50 53 → 14 ms in issue 16's experiment). TLS sockets are net.Sockets too; for
    // WebSocket, `ws` sets it on the upgraded socket itself (this stream has no setNoDelay).
    (socket as Duplex & { setNoDelay?: (noDelay: boolean) => unknown }).setNoDelay?.(true);
    const limit = new FrameLimit(this.frameLimit);
    const conn = Duplex.from({ readable: limit, writable: socket });
    limit.on('error', (err) => {
      if (err instanceof FrameTooLargeError) {
        this.refuse(
          'GH_ERR_PAYLOAD_TOO_LARGE',
          { clientId: 'unknown', size: err.size, limit: err.limit },
          'MQTT frame too large; connection closed',
        );
      }
      socket.destroy();
      conn.destroy();
    });
    socket.on('error', () => conn.destroy());
    socket.on('close', () => conn.destroy());
    conn.on('close', () => socket.destroy());
    socket.pipe(limit);
    aedes.handle(conn, req);
  }

  private authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    done: (err: (Error & { returnCode: never }) | null, ok: boolean | null) => void,
  ): void {
    if (this.stopping) return done(authError('shutting down', CONNACK_SERVER_UNAVAILABLE), false);
    const secret = password?.toString('utf8') ?? '';
    if (!username || !secret) {
      this.refuse('GH_ERR_MQTT_BAD_CREDENTIALS', { clientId: client.id }, 'MQTT connect without credentials');
      return done(authError('credentials required', CONNACK_BAD_CREDENTIALS), false);
    }
    if (secret.startsWith('ghk_')) {
      // Staff client: user name is the person id, password an API token of that person.
      this.deps.access.authenticateToken(secret).then(
        (principal) => {
          if (!principal || principal.personId !== username) {
            this.refuse(
              'GH_ERR_MQTT_BAD_CREDENTIALS',
              { clientId: client.id, username },
              'MQTT staff login refused',
            );
            return done(authError('bad credentials', CONNACK_BAD_CREDENTIALS), false);
          }
          this.attach(client, { kind: 'staff', principal });
          done(null, true);
        },
        (err: unknown) => {
          this.log.error({ err }, 'staff authentication failed');
          done(authError('unavailable', CONNACK_SERVER_UNAVAILABLE), false);
        },
      );
      return;
    }
    const check = this.deps.directory.verify(username, secret);
    if (!check.ok) {
      // An unknown device and a wrong secret look the same to the client (no probing for ids).
      this.refuse(
        check.code === 'GH_ERR_DEVICE_UNKNOWN' ? 'GH_ERR_MQTT_BAD_CREDENTIALS' : check.code,
        { clientId: client.id, deviceId: username, reason: check.code },
        'MQTT device login refused',
      );
      const rc =
        check.code === 'GH_ERR_DEVICE_DECOMMISSIONED' ? CONNACK_NOT_AUTHORIZED : CONNACK_BAD_CREDENTIALS;
      return done(authError(check.code, rc), false);
    }
    this.attach(client, { kind: 'device', device: check.device });
    done(null, true);
  }

  private attach(client: Client, identity: ClientIdentity): void {
    const { ratePerSecond, rateBurst } = this.deps.config;
    this.states.set(client, {
      identity,
      bucket: new TokenBucket(ratePerSecond, rateBurst),
      throttledSince: 0,
    });
    if (identity.kind === 'device') {
      const set = this.clientsByDevice.get(identity.device.deviceId) ?? new Set();
      set.add(client);
      this.clientsByDevice.set(identity.device.deviceId, set);
    }
  }

  private authorizePublish(
    client: Client | null,
    packet: PublishPacket,
    done: (err?: Error | null) => void,
  ): void {
    const state = client ? this.states.get(client) : undefined;
    if (!client || !state) return done(new Error('unknown client'));
    if (!publishAllowed(state.identity, packet.topic)) {
      const fields = {
        clientId: client.id,
        topic: packet.topic,
        ...(state.identity.kind === 'device'
          ? { deviceId: state.identity.device.deviceId }
          : { personId: state.identity.principal.personId }),
      };
      this.refuse('GH_ERR_MQTT_PUBLISH_FORBIDDEN', fields, 'MQTT publish refused; connection closed');
      // MQTT-3.3.5-2: the server closes the connection; aedes does so on this error, before any
      // subscriber or the ingest sees the message.
      return done(new Error('GH_ERR_MQTT_PUBLISH_FORBIDDEN'));
    }
    const wait = state.bucket.take();
    if (wait === 0) {
      state.throttledSince = 0;
      return this.process(client, state, packet, done);
    }
    const now = Date.now();
    state.throttledSince ||= now;
    if (now - state.throttledSince > this.deps.config.floodDisconnectSeconds * 1000) {
      this.refuse(
        'GH_ERR_FLOOD_DISCONNECT',
        { clientId: client.id },
        'client throttled for too long; disconnected',
      );
      state.throttledSince = 0;
      return done(new Error('GH_ERR_FLOOD_DISCONNECT'));
    }
    if (this.held >= this.deps.config.maxQueuedMessages) {
      this.refuse(
        'GH_ERR_OVERLOADED',
        { clientId: client.id, held: this.held },
        'too many messages held; throttled client disconnected',
      );
      return done(new Error('GH_ERR_OVERLOADED'));
    }
    this.refuse(
      'GH_ERR_RATE_LIMITED',
      { clientId: client.id, waitMs: wait },
      'client over its publish rate; holding its messages',
    );
    this.held++;
    this.deps.metrics.mqttThrottled.set(this.held);
    setTimeout(() => {
      this.held--;
      this.deps.metrics.mqttThrottled.set(this.held);
      if (client.closed) return done(new Error('closed'));
      this.process(client, state, packet, done);
    }, wait);
  }

  private process(
    client: Client,
    state: ClientState,
    packet: PublishPacket,
    done: (err?: Error | null) => void,
  ): void {
    if (state.identity.kind === 'device') {
      const parsed = parseDeviceTopic(packet.topic);
      if (parsed && parsed.kind !== 'command') {
        const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
        this.deps.ingest.handle(state.identity.device, parsed.kind, packet.topic, payload, client.id);
      }
      // The hub keeps presence itself; no retained copies of device topics pile up in the broker.
      packet.retain = false;
    } else {
      const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
      this.deps.bus.emit('staff.message', {
        principal: state.identity.principal,
        topic: packet.topic,
        payload,
      });
      packet.retain = false;
    }
    done(null);
  }

  private authorizeSubscribe(
    client: Client,
    sub: Subscription,
    done: (err: Error | null, sub?: Subscription | null) => void,
  ): void {
    const state = this.states.get(client);
    if (state && subscribeAllowed(state.identity, sub.topic)) return done(null, sub);
    this.refuse(
      'GH_ERR_MQTT_SUBSCRIBE_FORBIDDEN',
      { clientId: client.id, topic: sub.topic },
      'MQTT subscription refused',
    );
    // null refuses this one subscription (SUBACK 0x80) and keeps the connection (MQTT-3.9.3).
    done(null, null);
  }

  private authorizeForward(client: Client, packet: AedesPublishPacket): AedesPublishPacket | null {
    const state = this.states.get(client);
    if (!state) return null;
    return forwardAllowed(state.identity, packet.topic, (id) => this.deps.gridPaths.pathOf(id))
      ? packet
      : null;
  }

  /** Topic filters a staff person's live sessions subscribe to (operations and tests: is a flow listening?). */
  staffSubscriptions(personId: string): string[] {
    const clients = Object.values(
      (this.aedes as unknown as { clients?: Record<string, Client> })?.clients ?? {},
    );
    return clients
      .filter((c) => {
        const st = this.states.get(c);
        return st?.identity.kind === 'staff' && st.identity.principal.personId === personId;
      })
      .flatMap((c) =>
        Object.keys((c as unknown as { subscriptions: Record<string, unknown> }).subscriptions),
      );
  }

  /** Publish to staff clients on a hub topic (bypasses authorizePublish, filtered by authorizeForward). */
  publishToStaff(topic: string, payload: unknown): void {
    this.aedes?.publish(
      {
        cmd: 'publish',
        topic,
        payload: Buffer.from(JSON.stringify(payload)),
        qos: 1,
        retain: false,
        dup: false,
      },
      (err) => {
        if (err) this.log.warn({ err, topic }, 'hub topic publish failed');
      },
    );
  }

  async start(): Promise<void> {
    this.stopping = false;
    const aedes = new Aedes({
      concurrency: 1000,
      drainTimeout: 30_000,
      maxTopicLevels: 16,
      preConnect: (_client, _packet, cb) => cb(null, !this.stopping),
      authenticate: (c, u, p, cb) => this.authenticate(c, u, p, cb),
      authorizePublish: (c, p, cb) => this.authorizePublish(c, p, cb),
      authorizeSubscribe: (c, s, cb) => this.authorizeSubscribe(c, s, cb),
      authorizeForward: (c, p) => this.authorizeForward(c, p),
    });
    await aedes.listen();
    this.aedes = aedes;
    aedes.on('clientReady', (client) => {
      const state = this.states.get(client);
      if (!state) return;
      this.deps.metrics.mqttConnections.inc({ kind: state.identity.kind });
      if (state.identity.kind === 'device')
        this.deps.presence.seen(state.identity.device, Date.now(), 'connect');
    });
    aedes.on('clientDisconnect', (client) => {
      const state = this.states.get(client);
      if (!state) return;
      this.deps.metrics.mqttConnections.dec({ kind: state.identity.kind });
      if (state.identity.kind === 'device')
        this.clientsByDevice.get(state.identity.device.deviceId)?.delete(client);
    });
    aedes.on('clientError', (client, err) =>
      this.log.debug({ clientId: client.id, err: err.message }, 'client error'),
    );
    aedes.on('connectionError', (client, err) =>
      this.log.debug({ clientId: client.id, err: err.message }, 'connection error'),
    );

    this.unsubscribe.push(
      this.deps.bus.on('device.changed', ({ deviceId, change }) => {
        this.deps.directory.invalidate(deviceId);
        // A rotated secret or a decommissioning ends live sessions at once.
        if (change === 'credentials')
          for (const client of this.clientsByDevice.get(deviceId) ?? []) client.close();
      }),
      this.deps.bus.on('device.event', (e) => this.publishToStaff(fillTopic(TOPICS.hubEvent.pattern, e), e)),
      this.deps.bus.on('device.presence', (p) =>
        this.publishToStaff(fillTopic(TOPICS.hubPresence.pattern, p), p),
      ),
    );

    const { host, port, tlsCertFile, tlsKeyFile, tlsPort } = this.deps.config;
    this.tcp = createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      this.tcp?.once('error', reject);
      this.tcp?.listen(port, host, () => resolve());
    });
    if (tlsCertFile && tlsKeyFile) {
      this.tls = createTlsServer(
        { cert: readFileSync(tlsCertFile), key: readFileSync(tlsKeyFile) },
        (socket) => this.accept(socket),
      );
      await new Promise<void>((resolve, reject) => {
        this.tls?.once('error', reject);
        this.tls?.listen(tlsPort, host, () => resolve());
      });
    }
    this.log.info({ port: this.port, tlsPort: this.tlsPort }, 'MQTT broker listening');
  }

  /** MQTT over WebSocket on the HTTP server's upgrade path. */
  attachWebSocket(server: HttpServer): void {
    const wss = new WebSocketServer({ noServer: true, maxPayload: this.frameLimit });
    this.wss = wss;
    this.httpServer = server;
    server.on('upgrade', this.onUpgrade);
  }

  private readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== this.deps.config.websocketPath || !this.wss) {
      socket.destroy();
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(createWebSocketStream(ws), req));
  };

  async stop(): Promise<void> {
    this.stopping = true;
    for (const off of this.unsubscribe.splice(0)) off();
    this.httpServer?.off('upgrade', this.onUpgrade);
    this.wss?.close();
    const closeServer = (s: NetServer | TlsServer | undefined) =>
      new Promise<void>((resolve) => (s ? s.close(() => resolve()) : resolve()));
    const servers = Promise.all([closeServer(this.tcp), closeServer(this.tls)]);
    await new Promise<void>((resolve) => (this.aedes ? this.aedes.close(() => resolve()) : resolve()));
    await servers;
    this.aedes = undefined;
    this.tcp = undefined;
    this.tls = undefined;
    this.clientsByDevice.clear();
    this.held = 0;
  }
}
