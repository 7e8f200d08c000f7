import type { Client, PublishPacket } from 'aedes';
import type { Principal } from '../auth/principal.ts';
import { commandAckDevice, parseDeviceTopic } from '../contract/topics.ts';
import { publishAllowed } from './acl.ts';
import { BrokerPart, type ClientState } from './clients.ts';
import type { KnownDevice } from './device-directory.ts';

/**
 * The publish path (aedes' `authorizePublish`): the topic ACL (a breach closes the connection,
 * MQTT-3.3.5-2), per-connection rate limits that hold messages back instead of buffering them, a
 * bound on everything held, ingest in the hook with the PUBACK waiting for the journal, stored wills
 * of clients gone before a restart, and staff requests (an alert acknowledgement).
 */
export class PublishPath extends BrokerPart {
  private held = 0;

  /** forget the held count (the broker stopped; nothing is held any more) */
  reset(): void {
    this.held = 0;
  }

  authorizePublish(client: Client | null, packet: PublishPacket, done: (err?: Error | null) => void): void {
    // A stored will of another broker (a dead cluster node, or this hub before a restart): aedes
    // hands it the live client of the same id when there is one, which must not end that client.
    const willOf = (packet as { brokerId?: string }).brokerId;
    if (
      !client ||
      (willOf !== undefined && willOf !== (client as Client & { broker?: { id: string } }).broker?.id)
    )
      return this.orphanWill(packet, done);
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
    packet.retain = false;
    const lookup =
      parsed?.kind === 'status' ? this.deps.directory.find(parsed.deviceId) : Promise.resolve(undefined);
    const accept = (device: KnownDevice | undefined) => {
      const live = device ? (this.clientsByDevice.get(device.deviceId)?.size ?? 0) > 0 : false;
      if (device && !live && parsed?.deviceId === clientId && device.status !== 'decommissioned') {
        const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
        this.deps.ingest.handle(device, 'status', packet.topic, payload, device.deviceId);
      }
      // Accepted either way so that aedes deletes the stored will instead of retrying it forever.
      done(null);
    };
    lookup.then(accept, () => accept(undefined));
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
}
