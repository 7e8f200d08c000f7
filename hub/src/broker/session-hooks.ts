import type { Aedes, AedesPublishPacket, Client, PublishPacket } from 'aedes';
import type { Bus, SessionOwner } from '../bus.ts';
import { commandAckDevice, parseTopic, personOfTopic } from '../contract/topics.ts';
import type { Logger } from '../logger.ts';
import type { ClientIdentity } from './acl.ts';
import type { KnownDevice } from './device-directory.ts';

/** Takes a device's answer to a command (cmd/ack) before the broker acknowledges the publish. */
export interface CommandAckSink {
  commandAck(device: KnownDevice, payload: Buffer, clientId: string): Promise<void>;
}

/** Topics whose PUBACKs the hub turns into receipts: a person's own topics and device commands. */
const isReceiptTopic = (topic: string) =>
  personOfTopic(topic) !== undefined || parseTopic('command', topic) !== undefined;

function ownerOf(identity: ClientIdentity): SessionOwner {
  return identity.kind === 'staff'
    ? { kind: 'staff', personId: identity.principal.personId }
    : { kind: 'device', deviceId: identity.device.deviceId };
}

const payloadOf = (p: { payload: Buffer | string }) =>
  typeof p.payload === 'string' ? Buffer.from(p.payload) : p.payload;

/**
 * What the hub learns from sessions, kept apart from admission and ingest: receipts (a PUBACK of
 * a tracked message, which aedes reports with the original packet when the session is persistent),
 * sessions becoming able to receive (connected with restored subscriptions, or subscribed), and
 * the cmd/ack hook (aedes' `published`, which runs before the PUBACK is sent).
 */
export class SessionHooks {
  constructor(
    private readonly identityOf: (client: Client) => ClientIdentity | undefined,
    private readonly bus: Bus,
    private readonly commandAcks: CommandAckSink | undefined,
    private readonly logger: Logger,
  ) {}

  attach(aedes: Aedes): void {
    aedes.on('ack', (packet, client) => {
      if (packet?.cmd !== 'publish' || !client) return;
      const p = packet as PublishPacket;
      if (!isReceiptTopic(p.topic)) return;
      const identity = this.identityOf(client);
      if (identity)
        this.bus.emit('mqtt.receipt', {
          clientId: client.id,
          owner: ownerOf(identity),
          topic: p.topic,
          payload: payloadOf(p),
        });
    });
    aedes.on('clientReady', (client) => {
      const identity = this.identityOf(client);
      const filters = Object.keys((client as unknown as { subscriptions: object }).subscriptions ?? {});
      if (identity && filters.length > 0)
        this.bus.emit('mqtt.session', {
          clientId: client.id,
          owner: ownerOf(identity),
          filters,
          persistent: !client.clean,
        });
    });
    aedes.on('subscribe', (subs, client) => {
      const identity = this.identityOf(client);
      // granted 128 = refused (MQTT-3.9.3)
      const filters = subs.filter((s) => (s.qos as number) !== 128).map((s) => s.topic);
      if (identity && filters.length > 0)
        this.bus.emit('mqtt.session', {
          clientId: client.id,
          owner: ownerOf(identity),
          filters,
          persistent: !client.clean,
        });
    });
  }

  /** aedes' `published` hook: a device's cmd/ack is handled before its PUBACK goes out. */
  published(packet: AedesPublishPacket, client: Client | null, done: (err?: Error | null) => void): void {
    const identity = client ? this.identityOf(client) : undefined;
    if (!this.commandAcks || identity?.kind !== 'device') return done(null);
    if (commandAckDevice(packet.topic) !== identity.device.deviceId) return done(null);
    this.commandAcks.commandAck(identity.device, payloadOf(packet), client?.id ?? '').then(
      () => done(null),
      (err: unknown) => {
        // A failing store must not turn into a disconnect loop; the device's ack is logged and dropped.
        this.logger.error({ err, deviceId: identity.device.deviceId }, 'command ack could not be stored');
        done(null);
      },
    );
  }
}
