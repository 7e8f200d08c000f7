import type { EventEmitter } from 'node:events';
import type { Server as HttpServer } from 'node:http';
import { Aedes, type AedesPublishPacket, type Client, type PublishPacket, type Subscription } from 'aedes';
import { endsSession } from '../auth/access-events.ts';
import { commandExpired } from '../commands/command-wire.ts';
import { staffOutputTopic, topicFor } from '../contract/topics.ts';
import type { ErrorCode } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { forwardAllowed, subscribeAllowed } from './acl.ts';
import { Admission, authError, CONNACK_SERVER_UNAVAILABLE } from './admission.ts';
import { type BrokerCore, type BrokerDeps, ConnectedClients } from './clients.ts';
import { scopeOf, withScope } from './message-scope.ts';
import type { BrokerPersistence } from './persistence/index.ts';
import { PublishPath } from './publish-path.ts';
import { SessionHooks } from './session-hooks.ts';
import { Transports } from './transports.ts';

export { clientIdBound } from './admission.ts';
export type { BrokerDeps, StaffRequestGuard } from './clients.ts';

/**
 * Aedes inside the hub: MQTT over TCP, over TLS when configured, and over WebSocket on the HTTP
 * server. The hooks are thin adapters (STYLE.md §6): identity from credentials at CONNECT, topic
 * ACLs, per-connection rate limits that hold messages back (so the socket is not read: back-pressure)
 * and a bound on all messages held; ingest runs in the publish hook.
 */
export class MqttBroker implements BrokerCore {
  private aedes: Aedes | undefined;
  readonly clients = new ConnectedClients();
  private readonly unsubscribe: (() => void)[] = [];
  stopping = false;
  readonly log: Logger;
  private persistence: BrokerPersistence | undefined;
  private readonly hooks: SessionHooks;
  private readonly transports: Transports;
  private readonly admission: Admission;
  private readonly publishPath: PublishPath;

  constructor(readonly deps: BrokerDeps) {
    this.log = deps.logger;
    this.hooks = new SessionHooks(
      (c) => this.states.get(c)?.identity,
      deps.bus,
      deps.commandAcks,
      deps.logger,
    );
    this.transports = new Transports(
      deps.config,
      () => this.aedes,
      (err) =>
        this.refuse(
          'GH_ERR_PAYLOAD_TOO_LARGE',
          { clientId: 'unknown', size: err.size, limit: err.limit },
          'MQTT frame too large; connection closed',
        ),
    );
    this.admission = new Admission(this);
    this.publishPath = new PublishPath(this);
  }

  private get states() {
    return this.clients.states;
  }

  /** false while the broker's session file cannot be written (sessions are kept in memory meanwhile) */
  get sessionsHealthy(): boolean {
    return this.persistence?.healthy !== false;
  }

  get listening(): boolean {
    return this.transports.tcpListening && !this.stopping;
  }

  get port(): number {
    return this.transports.port;
  }

  get tlsPort(): number | undefined {
    return this.transports.tlsPort;
  }

  /** MQTT over WebSocket on the HTTP server's upgrade path. */
  attachWebSocket(server: HttpServer): void {
    this.transports.attachWebSocket(server);
  }

  refuse(code: ErrorCode, fields: Record<string, unknown>, msg: string): void {
    this.deps.metrics.errors.inc({ code, source: 'mqtt' });
    this.deps.ingest.logLimited(
      `${String(fields.clientId ?? fields.deviceId)}:${code}`,
      { code, ...fields },
      msg,
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
  /** An aedes event handler that throws would throw out of aedes and end the process: log it instead. */
  private safely(event: string, run: () => void): void {
    try {
      run();
    } catch (err) {
      this.hookFailed(event, null, err);
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
  publishToStaff(
    topic: string,
    payload: unknown,
    scope?: { gridPath: string; siteId: string | null },
    delivered?: () => void,
  ): void {
    const declared = staffOutputTopic(topic);
    let body: Buffer;
    try {
      if (!declared) throw new Error('not a declared hub → staff topic (contract/topics.ts)');
      body = Buffer.from(JSON.stringify(declared.project(payload)));
    } catch (err) {
      // e.g. a value nested too deep for JSON.stringify: this message is dropped, nothing else is.
      this.deps.metrics.errors.inc({ code: 'GH_ERR_INTERNAL', source: 'mqtt' });
      this.log.error({ err, topic }, 'hub topic message not published');
      delivered?.();
      return;
    }
    if (!this.aedes) return delivered?.();
    this.aedes.publish(
      {
        cmd: 'publish',
        topic,
        payload: body,
        qos: 1,
        retain: false,
        dup: false,
        ...(scope ? { properties: withScope(scope) } : {}),
      } as PublishPacket,
      // aedes calls back once every subscriber's copy has been written (or queued for a session)
      (err) => {
        if (err) this.log.warn({ err, topic }, 'hub topic publish failed');
        delivered?.();
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
      ...this.deps.cluster?.(),
      persistence: this.persistence,
      // No cap on messages in delivery. With a cap, mqemitter queues the rest and drains its queue by
      // recursion whenever deliveries finish synchronously (nobody subscribed): a backlog of some
      // thousand messages overflowed the stack and ended the process (1,000 devices × 5 events/s).
      // A cap bounds nothing either (its queue is unbounded) and lets one slow subscriber hold back
      // every alert behind it; slow clients are disconnected instead (sweepSlowConsumers).
      concurrency: 0,
      drainTimeout: 30_000,
      maxTopicLevels: 16,
      // Every hook is guarded: one bad message or a failing disk must never end the process.
      preConnect: (client, packet, cb) => {
        // authenticate() only sees the id aedes assigned; remember that it was empty
        if (!packet.clientId) this.clients.assignedIds.add(client);
        cb(null, !this.stopping);
      },
      authenticate: (c, u, p, cb) =>
        this.guard(
          'authenticate',
          c,
          () => this.admission.authenticate(c, u, p, cb),
          () => cb(authError('unavailable', CONNACK_SERVER_UNAVAILABLE), false),
        ),
      authorizePublish: (c, p, cb) =>
        this.guard(
          'authorizePublish',
          c,
          () => this.publishPath.authorizePublish(c, p, cb),
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
    this.transports.sweepSlowConsumers(this.deps.config.maxBufferedBytes, (client, buffered) =>
      this.refuse(
        'GH_ERR_SLOW_CONSUMER',
        { clientId: client.id, buffered },
        'client does not read; disconnected',
      ),
    );
    aedes.on('connackSent', (connack, client) =>
      this.safely('connackSent', () => {
        // At CONNACK, before aedes reads the client's first publish: a device that connects and at
        // once publishes a retained "offline" must end offline (its online must not land after it).
        const state = this.states.get(client);
        if (!state || (connack as { returnCode?: number }).returnCode !== 0) return;
        if (state.identity.kind === 'device')
          this.deps.presence.seen(state.identity.device, Date.now(), 'connect');
      }),
    );
    this.hooks.attach(aedes);
    // aedes stores a SUBSCRIBE's whole filter list for a persistent session, refused filters
    // (SUBACK 0x80) included; left there they would fill the session's queue with what it may not see.
    aedes.on('subscribe', (subs, client) =>
      this.safely('subscribe', () => {
        const refused = subs.filter((s) => (s.qos as number) === 128).map((s) => s.topic);
        if (refused.length > 0 && !client.clean)
          this.persistence
            ?.removeSubscriptions({ id: client.id }, refused)
            .catch((err: unknown) => this.log.error({ err }, 'dropping refused subscriptions failed'));
      }),
    );
    aedes.on('clientReady', (client) =>
      this.safely('clientReady', () => {
        const state = this.states.get(client);
        if (!state) return;
        this.deps.metrics.mqttConnections.inc({ kind: state.identity.kind });
      }),
    );
    aedes.on('clientDisconnect', (client) =>
      this.safely('clientDisconnect', () => {
        const state = this.states.get(client);
        if (!state) return;
        this.deps.metrics.mqttConnections.dec({ kind: state.identity.kind });
        if (state.identity.kind === 'device')
          this.clients.byDevice.get(state.identity.device.deviceId)?.delete(client);
        else this.clients.byPerson.get(state.identity.principal.personId)?.delete(client);
      }),
    );
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
          for (const client of this.clients.byDevice.get(deviceId) ?? []) client.close();
      }),
      // A revoked token, a deactivated person or changed roles/jurisdiction: the staff sessions
      // admitted under the old grant end at once (their per-message filter used the old grant).
      this.deps.bus.on('access.changed', (change) => {
        for (const client of this.clients.byPerson.get(change.personId) ?? []) {
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

    await this.transports.listen();
    this.log.info({ port: this.port, tlsPort: this.tlsPort }, 'MQTT broker listening');
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const off of this.unsubscribe.splice(0)) off();
    const servers = this.transports.close();
    await new Promise<void>((resolve) => (this.aedes ? this.aedes.close(() => resolve()) : resolve()));
    await servers;
    // aedes does not close its persistence; ours writes what is pending and closes its file.
    await this.persistence
      ?.destroy()
      .catch((err: unknown) => this.log.error({ err }, 'closing sessions failed'));
    this.persistence = undefined;
    this.aedes = undefined;
    this.clients.clear();
    this.publishPath.reset();
  }
}
