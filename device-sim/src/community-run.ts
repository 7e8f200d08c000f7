import mqtt, { type MqttClient } from 'mqtt';
import { topicFor } from '../../hub/src/contract/topics.ts';
import { answerCommands } from './command-responder.ts';
import { elevatorDay } from './elevator-day.ts';

export interface RunDevice {
  id: string;
  secret: string;
  model: string;
}

export interface RunOptions {
  mqttUrl: string;
  devices: readonly RunDevice[];
  /** time compression: 60 makes an hour of device life pass in a minute */
  speed: number;
  /** chance per device-hour of a minor fault or a low battery (scaled by speed) */
  faultsPerDeviceHour?: number;
  log?: (line: string) => void;
  now?: () => number;
}

export interface RunStats {
  connected: number;
  published: number;
  reconnects: number;
}

const HOUR = 3_600_000;

/**
 * A living community: every device connects with its own credentials, a birth message and a last
 * will, and reconnects after drops; it reports at its kind's rhythm (elevators every few seconds with
 * trips by hour of day; detectors, buttons and sensors a heartbeat with slowly draining battery; water
 * levels with rain events), and now and then a minor fault or a low battery.
 */
export class CommunityRun {
  private readonly clients: MqttClient[] = [];
  private readonly byDevice = new Map<string, MqttClient>();
  private readonly timers: NodeJS.Timeout[] = [];
  readonly stats: RunStats = { connected: 0, published: 0, reconnects: 0 };

  constructor(private readonly o: RunOptions) {}

  private publish(client: MqttClient, topic: string, payload: unknown, qos: 0 | 1 = 0): void {
    client.publish(topic, JSON.stringify(payload), { qos });
    this.stats.published++;
  }

  async start(): Promise<void> {
    const now = this.o.now ?? Date.now;
    const speed = this.o.speed;
    const faultChance = (this.o.faultsPerDeviceHour ?? 0.005) / 3600 / 1000;
    for (const [i, d] of this.o.devices.entries()) {
      const client = await mqtt.connectAsync(this.o.mqttUrl, {
        clientId: d.id,
        username: d.id,
        password: d.secret,
        // a persistent session: commands sent while the device is away wait for it
        clean: false,
        reconnectPeriod: 2000,
        will: {
          topic: topicFor('status', { deviceId: d.id }),
          payload: Buffer.from('{"state":"offline"}'),
          qos: 1,
          retain: true,
        },
      });
      this.clients.push(client);
      this.byDevice.set(d.id, client);
      this.stats.connected++;
      client.on('connect', () => {
        this.publish(client, topicFor('status', { deviceId: d.id }), { state: 'online' }, 1);
      });
      client.on('reconnect', () => {
        this.stats.reconnects++;
      });
      this.publish(client, topicFor('status', { deviceId: d.id }), { state: 'online' }, 1);
      const events = topicFor('event', { deviceId: d.id });
      const telemetry = topicFor('telemetry', { deviceId: d.id });
      let battery = 80 + (i % 20);
      let seq = 0;
      const eventId = () => `run-${now().toString(36)}-${seq++}`;
      await answerCommands(client, d, eventId, this.o.log);
      const maybeFault = (periodMs: number) => {
        if (Math.random() < faultChance * periodMs * speed) {
          if (d.model === 'gbt24476-elevator')
            this.publish(
              client,
              events,
              { eventId: eventId(), type: 'fault', code: ['02', '03', '07'][i % 3] },
              1,
            );
          else this.publish(client, events, { eventId: eventId(), type: 'battery.low', battery }, 1);
        }
      };
      if (d.model === 'gbt24476-elevator') {
        // Elevator days at their real pace, sampled every 5 s of device time.
        const day = elevatorDay(i + 1, now() - (now() % 86_400_000));
        const every = Math.max(50, 5000 / speed);
        this.timers.push(
          setInterval(() => {
            for (let k = 0; k < 4; k++) day.next(); // 5 s of device time per tick
            const r = day.next();
            if (r.done) return;
            this.publish(client, telemetry, { ...r.value.values, ts: now() });
            maybeFault(5000);
          }, every),
        );
      } else {
        // Battery devices: a heartbeat every hour of device time.
        const every = Math.max(200, HOUR / speed);
        let level = 2;
        let rain = 0;
        this.timers.push(
          setInterval(() => {
            battery = Math.max(5, battery - 0.01 * (HOUR / 86_400_000) * 100);
            if (d.model === 'generic-water-level') {
              if (rain <= 0 && Math.random() < 0.05) rain = 6; // a rain event: six hours of rising water
              level = rain-- > 0 ? level + 1.5 : Math.max(2, level - 1);
              this.publish(client, telemetry, {
                level: Math.round(level * 10) / 10,
                battery: Math.round(battery),
                ts: now(),
              });
            } else this.publish(client, telemetry, { battery: Math.round(battery), ts: now() });
            maybeFault(HOUR);
          }, every),
        );
      }
    }
    this.o.log?.(`community running: ${this.stats.connected} devices, time × ${speed}`);
  }

  /**
   * An event from one of the running devices, on its own connection: the broker admits one
   * session per client id and a device's client id is its id, so a second connection would
   * take the first one's place.
   */
  async publishEvent(deviceId: string, event: Record<string, unknown>): Promise<void> {
    const client = this.byDevice.get(deviceId);
    if (!client) throw new Error(`no running device '${deviceId}'`);
    await client.publishAsync(topicFor('event', { deviceId: deviceId }), JSON.stringify(event), { qos: 1 });
    this.stats.published++;
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await Promise.all(this.clients.map((c) => c.endAsync()));
  }
}
