import type { Redis } from 'ioredis';
import type { DeviceDirectory } from '../broker/device-directory.ts';
import type { AlertChanged, Bus, BusEvents } from '../bus.ts';
import type { Logger } from '../logger.ts';
import type { Presence } from '../presence/presence.ts';
import { KEY_PREFIX } from './node-registry.ts';

/** What the relay reaches on this node (hub.ts wires it; cluster/cluster-node.ts owns it). */
export interface RelayParts {
  bus: Bus;
  /** the console's alert stream, fed from the cluster-wide sequence (output/alert-stream.ts) */
  alertStream: { fromCluster: boolean; accept(c: AlertChanged): void };
  throttle: {
    observer:
      | { failed(username: string, from: string): void; succeeded(username: string, from: string): void }
      | undefined;
    failed(username: string, from: string, remote: boolean): void;
    succeeded(username: string, from: string, remote: boolean): void;
  };
  policies: { onChange: (() => void) | undefined; reload(): Promise<void> };
  presence: Presence;
  directory: DeviceDirectory;
}

/**
 * Bus events every node must act on, whichever node raised them. They only invalidate caches or end
 * live sessions (device directory, presence placement, ingress identities and integrations, staff
 * MQTT sessions, SSE streams), so acting on them twice is harmless; events that do work (tickets,
 * alerts) never cross. integration.changed carries an id only: the others reload the integration
 * (and its sealed secrets) from the store, so no secret goes over Redis.
 */
const SHARED_EVENTS = ['device.changed', 'access.changed', 'integration.changed'] as const;
type SharedEvent = (typeof SHARED_EVENTS)[number];

type RelayMessage =
  | { from: string; t: 'bus'; event: SharedEvent; payload: BusEvents[SharedEvent] }
  | { from: string; t: 'login'; op: 'failed' | 'succeeded'; username: string; addr: string }
  | { from: string; t: 'policies' };

const RELAY = `${KEY_PREFIX}relay`;
const ALERTS = `${KEY_PREFIX}alerts`;
const ALERT_LOG = `${KEY_PREFIX}alerts:log`;
const ALERT_SEQ = `${KEY_PREFIX}alerts:seq`;
/** as many as one node's stream keeps (output/alert-stream.ts) */
const ALERT_LOG_KEPT = 1000;

/**
 * Number an alert change cluster-wide, keep it for Last-Event-ID replay and announce it, in one
 * step: Redis runs a script alone, so the numbers, the log and the announcements are in one order.
 */
const PUBLISH_ALERT = `
local seq = redis.call('INCR', KEYS[1])
local entry = seq .. ' ' .. ARGV[1]
redis.call('RPUSH', KEYS[2], entry)
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[2]), -1)
redis.call('PUBLISH', KEYS[3], entry)
return seq`;

function parseAlertEntry(entry: string): AlertChanged | undefined {
  const space = entry.indexOf(' ');
  const seq = Number(entry.slice(0, space));
  if (!Number.isSafeInteger(seq)) return undefined;
  return { ...(JSON.parse(entry.slice(space + 1)) as Omit<AlertChanged, 'seq'>), seq };
}

/**
 * The cross-node relay on Redis pub/sub (issue 19): the console's alert stream with cluster-wide
 * event ids, cache invalidations, sign-in failures and policy changes. Pub/sub delivers within
 * milliseconds while Redis is reachable; a node that lost Redis misses what was said meanwhile,
 * so the caches it guards also expire on their own (auth.deviceAuthCacheSeconds).
 */
export class EventRelay {
  private readonly off: (() => void)[] = [];
  /** payloads that came from another node: not passed on again */
  private readonly remote = new WeakSet<object>();
  private replaying: string[] | undefined;

  constructor(
    private readonly nodeId: string,
    private readonly db: Redis,
    private readonly sub: Redis,
    private readonly parts: RelayParts,
    private readonly log: Logger,
  ) {}

  private say(m: RelayMessage): void {
    this.db.publish(RELAY, JSON.stringify(m)).catch((err: unknown) => {
      this.log.error(
        { err, t: m.t },
        'cluster relay message not sent; other nodes learn it when their caches expire',
      );
    });
  }

  async start(): Promise<void> {
    const { bus, alertStream, throttle, policies } = this.parts;
    alertStream.fromCluster = true;
    this.replaying = [];
    this.sub.on('message', this.onMessage);
    await this.sub.subscribe(RELAY, ALERTS);
    // Subscribed first, then the log read: nothing falls between the two (accept() skips overlap).
    const kept = await this.db.lrange(ALERT_LOG, 0, -1);
    const live = this.replaying;
    this.replaying = undefined;
    for (const entry of [...kept, ...live]) this.acceptAlert(entry);

    this.off.push(
      bus.on('alert.changed', (c) => {
        const { seq: _local, ...change } = c;
        this.db
          .eval(PUBLISH_ALERT, 3, ALERT_SEQ, ALERT_LOG, ALERTS, JSON.stringify(change), ALERT_LOG_KEPT)
          .catch((err: unknown) =>
            this.log.error({ err, alertId: c.alert.id }, 'alert change not relayed to the consoles'),
          );
      }),
    );
    for (const event of SHARED_EVENTS)
      this.off.push(
        bus.on(event, (payload) => {
          if (!this.remote.has(payload)) this.say({ from: this.nodeId, t: 'bus', event, payload });
        }),
      );
    throttle.observer = {
      failed: (username, addr) => this.say({ from: this.nodeId, t: 'login', op: 'failed', username, addr }),
      succeeded: (username, addr) =>
        this.say({ from: this.nodeId, t: 'login', op: 'succeeded', username, addr }),
    };
    policies.onChange = () => this.say({ from: this.nodeId, t: 'policies' });
  }

  private acceptAlert(entry: string): void {
    try {
      const c = parseAlertEntry(entry);
      if (c) this.parts.alertStream.accept(c);
    } catch (err) {
      this.log.error({ err }, 'unreadable alert change from the cluster dropped');
    }
  }

  private readonly onMessage = (channel: string, message: string): void => {
    if (channel === ALERTS) {
      if (this.replaying) this.replaying.push(message);
      else this.acceptAlert(message);
      return;
    }
    if (channel !== RELAY) return;
    let m: RelayMessage;
    try {
      m = JSON.parse(message) as RelayMessage;
    } catch {
      return;
    }
    if (m.from === this.nodeId) return;
    const { bus, throttle, policies } = this.parts;
    if (m.t === 'bus' && (SHARED_EVENTS as readonly string[]).includes(m.event)) {
      this.remote.add(m.payload);
      bus.emit(m.event, m.payload as never);
    } else if (m.t === 'login') {
      if (m.op === 'failed') throttle.failed(m.username, m.addr, true);
      else throttle.succeeded(m.username, m.addr, true);
    } else if (m.t === 'policies') {
      policies.reload().catch((err: unknown) => this.log.error({ err }, 'reloading policies failed'));
    }
  };

  async stop(): Promise<void> {
    for (const off of this.off.splice(0)) off();
    this.parts.throttle.observer = undefined;
    this.parts.policies.onChange = undefined;
    this.sub.off('message', this.onMessage);
  }
}
