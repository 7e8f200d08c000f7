import type { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import type { Server as HttpServer, IncomingMessage } from 'node:http';
import { type AddressInfo, createServer, type Server as NetServer } from 'node:net';
import { Duplex } from 'node:stream';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { Aedes, type AedesPublishPacket, type Client, type PublishPacket, type Subscription } from 'aedes';
import { createWebSocketStream, WebSocketServer } from 'ws';
import type { AccessService } from '../auth/access.ts';
import { type Credential, endsSession } from '../auth/access-events.ts';
import type { Principal } from '../auth/principal.ts';
import type { Bus } from '../bus.ts';
import { commandExpired } from '../commands/command-wire.ts';
import type { Config } from '../config/schema.ts';
import { commandAckDevice, parseDeviceTopic, staffOutputTopic, topicFor } from '../contract/topics.ts';
import type { ErrorCode } from '../errors.ts';
import type { Ingest } from '../ingest/ingest.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { Presence } from '../presence/presence.ts';
import type { StorageHealth } from '../store/storage-health.ts';
import { type ClientIdentity, forwardAllowed, publishAllowed, subscribeAllowed } from './acl.ts';
import type { DeviceDirectory } from './device-directory.ts';
import { FrameLimit, FrameTooLargeError } from './frame-limit.ts';
import { scopeOf, withScope } from './message-scope.ts';
import type { BrokerPersistence } from './persistence/index.ts';
import { TokenBucket } from './rate-limiter.ts';
import { type CommandAckSink, SessionHooks } from './session-hooks.ts';

interface ClientState {
  identity: ClientIdentity;
  bucket: TokenBucket;
  /** when this connection's messages started being held back; 0 when not throttled */
  throttledSince: number;
  /** the API token a staff client logged in with (its session ends when the token is revoked) */
  credential?: Credential;
}

/**
 * May a staff client publish this request? (e.g. an ack only for an alert the person may see.)
 * Provided by the composition root, so the broker knows no alert internals.
 */
export interface StaffRequestGuard {
  mayPublish(principal: Principal, topic: string): Promise<boolean>;
}

/** CONNACK return codes of MQTT 3.1.1 §3.2.2.3. */
const CONNACK_IDENTIFIER_REJECTED = 2;
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
  bus: Bus;
  storage: StorageHealth;
  metrics: Metrics;
  logger: Logger;
  /** sessions, retained messages and wills (config `mqtt.persistence`); a fresh one per start */
  persistence: () => BrokerPersistence;
  /** where devices' cmd/ack answers go */
  commandAcks?: CommandAckSink;
  staffRequests: StaffRequestGuard;
}

/**
 * Client ids are bound to identities (issue 14): MQTT-3.1.4-2 lets a second CONNECT with a live
 * client id take that session over, so an id anyone may choose is a way to kick a panic button off.
 * A device's client id is its device id; a staff client's is its person id, alone or followed by
 * `:` and any suffix (`:` cannot occur in a person id, so no person's ids overlap another's).
 */
export function clientIdBound(identity: ClientIdentity, clientId: string): boolean {
  if (identity.kind === 'device') return clientId === identity.device.deviceId;
  const person = identity.principal.personId;
  return clientId === person || clientId.startsWith(`${person}:`);
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
  private readonly clientsByPerson = new Map<string, Set<Client>>();
  /** connections that sent an empty client id (aedes has assigned one before authenticate runs) */
  private readonly assignedIds = new WeakSet<Client>();
  private readonly unsubscribe: (() => void)[] = [];
  private held = 0;
  private stopping = false;
  private readonly log: Logger;
  private persistence: BrokerPersistence | undefined;
  private readonly hooks: SessionHooks;

  constructor(private readonly deps: BrokerDeps) {
    this.log = deps.logger;
    this.hooks = new SessionHooks(
      (c) => this.states.get(c)?.identity,
      deps.bus,
      deps.commandAcks,
      deps.logger,
    );
  }

  /** false while the broker's session file cannot be written (sessions are kept in memory meanwhile) */
  get sessionsHealthy(): boolean {
    return this.persistence?.healthy !== false;
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
    // A client that publishes and hangs up at once: what it sent is still read and processed (its
    // messages may wait for a group commit); only then does the connection end. Hence end, not destroy.
    socket.on('close', () => {
      if (!limit.writableEnded) limit.end();
    });
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
    const assigned = this.assignedIds.has(client);
    if (assigned && !client.clean) {
      // MQTT-3.1.3-8: a zero-byte client id needs cleanSession=1; otherwise CONNACK 0x02 and close.
      this.refuse('GH_ERR_MQTT_CLIENT_ID_EMPTY', { clientId: '', username }, 'MQTT connect refused');
      return done(authError('empty client id needs a clean session', CONNACK_IDENTIFIER_REJECTED), false);
    }
    const secret = password?.toString('utf8') ?? '';
    if (!username || !secret) {
      this.refuse('GH_ERR_MQTT_BAD_CREDENTIALS', { clientId: client.id }, 'MQTT connect without credentials');
      return done(authError('credentials required', CONNACK_BAD_CREDENTIALS), false);
    }
    // With valid credentials, the client id must be bound to them; a server-assigned id (from an
    // empty one with a clean session) belongs to nobody else and cannot take anything over.
    const admit = (identity: ClientIdentity, credential?: Credential) => {
      if (!assigned && !clientIdBound(identity, client.id)) {
        this.refuse(
          'GH_ERR_MQTT_CLIENT_ID_MISMATCH',
          {
            clientId: client.id,
            ...(identity.kind === 'device'
              ? { deviceId: identity.device.deviceId }
              : { personId: identity.principal.personId }),
          },
          'MQTT connect refused: client id not bound to the credentials',
        );
        return done(authError('client id not bound to the credentials', CONNACK_IDENTIFIER_REJECTED), false);
      }
      this.attach(client, identity, credential);
      done(null, true);
    };
    if (secret.startsWith('ghk_')) {
      // Staff client: user name is the person id, password an API token of that person.
      this.deps.access.authenticateToken(secret).then(
        (found) => {
          if (!found || found.principal.personId !== username) {
            this.refuse(
              'GH_ERR_MQTT_BAD_CREDENTIALS',
              { clientId: client.id, username },
              'MQTT staff login refused',
            );
            return done(authError('bad credentials', CONNACK_BAD_CREDENTIALS), false);
          }
          admit({ kind: 'staff', principal: found.principal }, found.credential);
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
      // An unknown device and a wrong secret look the same to the client (no probing for ids);
      // the metrics and the log say which it was.
      this.refuse(check.code, { clientId: client.id, deviceId: username }, 'MQTT device login refused');
      const rc =
        check.code === 'GH_ERR_DEVICE_DECOMMISSIONED' ? CONNACK_NOT_AUTHORIZED : CONNACK_BAD_CREDENTIALS;
      return done(
        authError(check.code === 'GH_ERR_DEVICE_UNKNOWN' ? 'GH_ERR_MQTT_BAD_CREDENTIALS' : check.code, rc),
        false,
      );
    }
    admit({ kind: 'device', device: check.device });
  }

  private attach(client: Client, identity: ClientIdentity, credential?: Credential): void {
    const { ratePerSecond, rateBurst } = this.deps.config;
    this.states.set(client, {
      identity,
      bucket: new TokenBucket(ratePerSecond, rateBurst),
      throttledSince: 0,
      ...(credential ? { credential } : {}),
    });
    const [index, key] =
      identity.kind === 'device'
        ? [this.clientsByDevice, identity.device.deviceId]
        : [this.clientsByPerson, identity.principal.personId];
    const set = index.get(key) ?? new Set();
    set.add(client);
    index.set(key, set);
  }

  private authorizePublish(
    client: Client | null,
    packet: PublishPacket,
    done: (err?: Error | null) => void,
  ): void {
    if (!client) return this.orphanWill(packet, done);
    const state = this.states.get(client);
    if (!state) return done(new Error('unknown client'));
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
    if (state.identity.kind === 'staff')
      return this.staffRequest(client, state.identity.principal, packet, done);
    // The hub keeps presence itself; no retained copies of device topics pile up in the broker.
    packet.retain = false;
    // Answers to commands go on to the `published` hook (session-hooks.ts), not through ingest.
    if (commandAckDevice(packet.topic) !== undefined) return done(null);
    const parsed = parseDeviceTopic(packet.topic);
    if (!parsed || parsed.kind === 'command') {
      // Under the device's own prefix but not a topic of the contract: dropped, counted, kept connected.
      this.refuse(
        'GH_ERR_TOPIC_UNKNOWN',
        { clientId: client.id, deviceId: state.identity.device.deviceId, topic: packet.topic },
        'publish to a topic outside the contract dropped',
      );
      return done(null);
    }
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    const out = this.deps.ingest.handle(
      state.identity.device,
      parsed.kind,
      packet.topic,
      payload,
      client.id,
      packet.qos,
    );
    if (!out.ok) return done(null);
    // The PUBACK (aedes sends it when done is called) waits until the message is on disk. A
    // message that could not be stored gets none: the connection closes and the device resends.
    out.durable.then(
      () => done(null),
      () => done(new Error('GH_ERR_STORAGE_FULL')),
    );
  }

  /**
   * A stored last will of a client whose broker is gone (the hub restarted while the device was
   * connected and it has not come back since): aedes publishes it without a client. It counts only
   * as the status of the device it was stored for; anything else is dropped.
   */
  private orphanWill(packet: PublishPacket, done: (err?: Error | null) => void): void {
    const parsed = parseDeviceTopic(packet.topic);
    const clientId = (packet as PublishPacket & { clientId?: string }).clientId;
    const device = parsed?.kind === 'status' ? this.deps.directory.find(parsed.deviceId) : undefined;
    const live = device ? (this.clientsByDevice.get(device.deviceId)?.size ?? 0) > 0 : false;
    if (device && !live && parsed?.deviceId === clientId && device.status !== 'decommissioned') {
      const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
      this.deps.ingest.handle(device, 'status', packet.topic, payload, device.deviceId);
    }
    packet.retain = false;
    // Accepted either way so that aedes deletes the stored will instead of retrying it forever.
    done(null);
  }

  /**
   * Staff: a request to the hub (an ack) for something the person may act on, or the connection
   * ends. It goes on the bus only; authorizeForward keeps it from every other client.
   */
  private staffRequest(
    client: Client,
    principal: Principal,
    packet: PublishPacket,
    done: (err?: Error | null) => void,
  ): void {
    const topic = packet.topic;
    this.deps.staffRequests.mayPublish(principal, topic).then(
      (ok) => {
        if (!ok) {
          this.refuse(
            'GH_ERR_MQTT_PUBLISH_FORBIDDEN',
            { clientId: client.id, personId: principal.personId, topic },
            'MQTT staff request refused; connection closed',
          );
          return done(new Error('GH_ERR_MQTT_PUBLISH_FORBIDDEN'));
        }
        const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
        this.deps.bus.emit('staff.message', { principal, topic, payload });
        packet.retain = false;
        done(null);
      },
      (err: unknown) => {
        this.log.error({ err, topic }, 'staff request check failed');
        done(new Error('unavailable'));
      },
    );
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
    // A command whose time ran out while the device slept is dropped from its queue, not delivered.
    if (state.identity.kind === 'device' && commandExpired(packet.payload, Date.now())) return null;
    // Clients talk to the hub, never to each other: aedes marks what a client published with its
    // client id; only the hub's own publishes (no client id) reach subscribers.
    if ((packet as { clientId?: string }).clientId !== undefined) return null;
    return forwardAllowed(state.identity, packet.topic, scopeOf(packet)) ? packet : null;
  }

  private hookFailed(hook: string, client: Client | null, err: unknown): void {
    const code = this.deps.storage.failed('store', err) ?? 'GH_ERR_INTERNAL';
    this.deps.metrics.errors.inc({ code, source: `mqtt:${hook}` });
    this.log.error(
      { err, hook, clientId: client?.id, code },
      'broker hook failed; the client is refused, the hub goes on',
    );
  }

  /** Run a hook; if it throws, log and count it and answer the client with `fallback` instead. */
  private guard(hook: string, client: Client | null, run: () => void, fallback: () => void): void {
    try {
      run();
    } catch (err) {
      this.hookFailed(hook, client, err);
      fallback();
    }
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

  /**
   * Publish to staff clients on a hub topic (bypasses authorizePublish, filtered by authorizeForward).
   * The payload is serialised through the topic's declared schema: what is not declared is not sent
   * (no secret hashes or internal fields), and a topic that is not declared is not published at all.
   */
  publishToStaff(topic: string, payload: unknown, scope?: { gridPath: string; siteId: string | null }): void {
    const declared = staffOutputTopic(topic);
    let body: Buffer;
    try {
      if (!declared) throw new Error('not a declared hub → staff topic (contract/topics.ts)');
      body = Buffer.from(JSON.stringify(declared.project(payload)));
    } catch (err) {
      // e.g. a value nested too deep for JSON.stringify: this message is dropped, nothing else is.
      this.deps.metrics.errors.inc({ code: 'GH_ERR_INTERNAL', source: 'mqtt' });
      this.log.error({ err, topic }, 'hub topic message not published');
      return;
    }
    this.aedes?.publish(
      {
        cmd: 'publish',
        topic,
        payload: body,
        qos: 1,
        retain: false,
        dup: false,
        ...(scope ? { properties: withScope(scope) } : {}),
      } as PublishPacket,
      (err) => {
        if (err) this.log.warn({ err, topic }, 'hub topic publish failed');
      },
    );
  }

  /** Publish a command to a device's `cmd` topic at QoS 1 (queued in its persistent session). */
  publishCommand(deviceId: string, payload: unknown): Promise<void> {
    return new Promise((resolve, reject) => {
      if (!this.aedes) return reject(new Error('broker is not started'));
      this.aedes.publish(
        {
          cmd: 'publish',
          topic: topicFor('command', { deviceId }),
          payload: Buffer.from(JSON.stringify(payload)),
          qos: 1,
          retain: false,
          dup: false,
        },
        (err) => (err ? reject(err) : resolve()),
      );
    });
  }

  /** Write pending session changes now (operations and tests; also happens every flush interval). */
  flushSessions(): void {
    this.persistence?.flush?.();
  }

  /** The QoS 1 messages the broker holds for a client id's session (what a re-send must not repeat). */
  async sessionQueue(clientId: string): Promise<{ topic: string; payload: Buffer }[]> {
    const out: { topic: string; payload: Buffer }[] = [];
    if (!this.persistence) return out;
    for await (const p of this.persistence.outgoingStream({ id: clientId }))
      if (p && (p as PublishPacket).cmd === 'publish') {
        const { topic, payload } = p as PublishPacket;
        out.push({ topic, payload: typeof payload === 'string' ? Buffer.from(payload) : payload });
      }
    return out;
  }

  async start(): Promise<void> {
    this.stopping = false;
    this.persistence = this.deps.persistence();
    const aedes = new Aedes({
      persistence: this.persistence,
      concurrency: 1000,
      drainTimeout: 30_000,
      maxTopicLevels: 16,
      // Every hook is guarded: one bad message or a failing disk must never end the process.
      preConnect: (client, packet, cb) => {
        // authenticate() only sees the id aedes assigned; remember that it was empty
        if (!packet.clientId) this.assignedIds.add(client);
        cb(null, !this.stopping);
      },
      authenticate: (c, u, p, cb) =>
        this.guard(
          'authenticate',
          c,
          () => this.authenticate(c, u, p, cb),
          () => cb(authError('unavailable', CONNACK_SERVER_UNAVAILABLE), false),
        ),
      authorizePublish: (c, p, cb) =>
        this.guard(
          'authorizePublish',
          c,
          () => this.authorizePublish(c, p, cb),
          () => cb(new Error('GH_ERR_INTERNAL')),
        ),
      authorizeSubscribe: (c, s, cb) =>
        this.guard(
          'authorizeSubscribe',
          c,
          () => this.authorizeSubscribe(c, s, cb),
          () => cb(null, null),
        ),
      authorizeForward: (c, p) => {
        try {
          return this.authorizeForward(c, p);
        } catch (err) {
          this.hookFailed('authorizeForward', c, err);
          return null;
        }
      },
      published: (p, c, cb) =>
        this.guard(
          'published',
          c,
          () => this.hooks.published(p, c, cb),
          () => cb(new Error('GH_ERR_INTERNAL')),
        ),
    });
    // A persistence failure must degrade the broker, never end the process (an unhandled 'error').
    (aedes as unknown as EventEmitter).on('error', (err: Error) => this.log.error({ err }, 'broker error'));
    await aedes.listen();
    this.aedes = aedes;
    aedes.on('connackSent', (connack, client) => {
      // At CONNACK, before aedes reads the client's first publish: a device that connects and at
      // once publishes a retained "offline" must end offline (its online must not land after it).
      const state = this.states.get(client);
      if (!state || (connack as { returnCode?: number }).returnCode !== 0) return;
      if (state.identity.kind === 'device')
        this.deps.presence.seen(state.identity.device, Date.now(), 'connect');
    });
    this.hooks.attach(aedes);
    // aedes stores a SUBSCRIBE's whole filter list for a persistent session, refused filters
    // (SUBACK 0x80) included; left there they would fill the session's queue with what it may not see.
    aedes.on('subscribe', (subs, client) => {
      const refused = subs.filter((s) => (s.qos as number) === 128).map((s) => s.topic);
      if (refused.length > 0 && !client.clean)
        this.persistence
          ?.removeSubscriptions({ id: client.id }, refused)
          .catch((err: unknown) => this.log.error({ err }, 'dropping refused subscriptions failed'));
    });
    aedes.on('clientReady', (client) => {
      const state = this.states.get(client);
      if (!state) return;
      this.deps.metrics.mqttConnections.inc({ kind: state.identity.kind });
    });
    aedes.on('clientDisconnect', (client) => {
      const state = this.states.get(client);
      if (!state) return;
      this.deps.metrics.mqttConnections.dec({ kind: state.identity.kind });
      if (state.identity.kind === 'device')
        this.clientsByDevice.get(state.identity.device.deviceId)?.delete(client);
      else this.clientsByPerson.get(state.identity.principal.personId)?.delete(client);
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
        // A rotated secret or a decommissioning ends live sessions at once; so does a move (site,
        // grid or unit): the session's placement was fixed at CONNECT, and the device must come
        // back with the new one before its next press pages anyone.
        if (change === 'credentials' || change === 'moved')
          for (const client of this.clientsByDevice.get(deviceId) ?? []) client.close();
      }),
      // A revoked token, a deactivated person or changed roles/jurisdiction: the staff sessions
      // admitted under the old grant end at once (their per-message filter used the old grant).
      this.deps.bus.on('access.changed', (change) => {
        for (const client of this.clientsByPerson.get(change.personId) ?? []) {
          const state = this.states.get(client);
          if (!state?.credential || endsSession(change, change.personId, state.credential)) {
            this.log.info(
              { clientId: client.id, personId: change.personId, reason: change.reason },
              'staff MQTT session ended: access changed',
            );
            client.close();
          }
        }
      }),
    );

    const { host, port, tlsCertFile, tlsKeyFile, tlsPort } = this.deps.config;
    // No Nagle: a PUBACK or an alert must not wait ~40 ms for the peer's delayed ACK of the last write.
    this.tcp = createServer({ noDelay: true }, (socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      this.tcp?.once('error', reject);
      this.tcp?.listen(port, host, () => resolve());
    });
    if (tlsCertFile && tlsKeyFile) {
      this.tls = createTlsServer(
        { cert: readFileSync(tlsCertFile), key: readFileSync(tlsKeyFile), noDelay: true },
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
    // aedes does not close its persistence; ours writes what is pending and closes its file.
    await this.persistence
      ?.destroy()
      .catch((err: unknown) => this.log.error({ err }, 'closing sessions failed'));
    this.persistence = undefined;
    this.aedes = undefined;
    this.tcp = undefined;
    this.tls = undefined;
    this.clientsByDevice.clear();
    this.clientsByPerson.clear();
    this.held = 0;
  }
}
