import type { AlertView } from './alerts/alert-schemas.ts';
import type { AccessChanged } from './auth/access-events.ts';
import type { Principal } from './auth/principal.ts';
import type {
  DeviceEvent,
  DevicePlacement,
  DeviceTelemetry,
  PresenceChange,
} from './contract/device-event.ts';
import type { DeviceType } from './contract/payloads.ts';
import type { TitleCode, TitleParams } from './contract/titles.ts';
import type { Logger } from './logger.ts';
import type { Severity, TicketView } from './tickets/ticket-schemas.ts';

export interface DeviceChanged {
  deviceId: string;
  change: 'registered' | 'moved' | 'credentials' | 'status';
}

/** A device's own word on its status topic: its birth message, or its last will. */
export interface DeviceStatusReport extends DevicePlacement {
  deviceType: DeviceType;
  state: 'online' | 'offline';
  receivedAt: number;
  at: number;
}

/**
 * Where an output message may go: the grid path, site and emergency unit of what it is about. Bus
 * events that feed hub output carry it, so no delivery path (MQTT forward check, SSE filter) looks
 * anything up per subscriber.
 */
export interface DeliveryScope {
  gridPath: string;
  siteId: string | null;
  emergencyUnitId: string | null;
}

export interface TicketChanged {
  ticket: TicketView;
  action: string;
  scope: DeliveryScope;
  /** who acted and their note (lifecycle actions; the staff topic carries ticket and action only) */
  by?: { actor: string; note: string | null };
}

/** An alert changed (raised, repeated, escalated, acknowledged, resolved …): SSE and the alert topic. */
export interface AlertChanged {
  /** change number since the hub started (SSE Last-Event-ID) */
  seq: number;
  action: string;
  alert: AlertView;
  scope: DeliveryScope;
}

/** A notification round reached someone: news for the unit's and grid's group webhooks. */
export interface AlertNotified {
  alert: AlertView;
  scope: DeliveryScope;
  /** the site's name (or the grid node's) */
  site: string;
  /** who was notified, by name */
  recipients: string;
}

/** A message for one person's own topic (an alert notification, a flow's message). */
export interface PersonDelivery {
  topic: 'personAlert' | 'personMessage';
  personId: string;
  payload: Record<string, unknown>;
}

/** A rule asks for the people of the site's emergency unit to be alerted (delivery: alerts module). */
export interface AlertRequested extends DevicePlacement {
  deviceType: DeviceType;
  severity: Severity;
  /** the rule and cause, e.g. `panic-press`, `smoke-confirmed` */
  cause: string;
  /** Chinese text; with the code and parameters the console renders (hub/src/contract/titles.ts) */
  title: string;
  titleCode?: TitleCode | null;
  titleParams?: TitleParams;
  ticketId: string | null;
  /** the device event that caused it (`deviceId:eventId`) */
  eventRef: string | null;
  at: number;
}

/** A staff client published on a hub request topic (e.g. an acknowledgement from a leader app). */
export interface StaffMessage {
  principal: Principal;
  topic: string;
  payload: Buffer;
}

/**
 * One accepted device message for the rules engine. Life-safety messages are handed over before
 * their journal commit (the alarm must not wait for a disk); the others after it. `settle` is
 * called once every matching rule has run, so the journal can mark the message done (a message
 * that is not done is run again after a crash).
 */
export interface RulesWork {
  subject: DeviceEvent | DeviceTelemetry;
  lifeSafety: boolean;
  /** position in the ingest journal; null until committed (or for a duplicate) */
  seq: number | null;
  settle(): void;
}

/** A device message is durable in the journal (series stores take it from here, in journal order). */
export interface JournalCommitted {
  seq: number;
  subject: DeviceEvent | DeviceTelemetry | DeviceStatusReport;
}

/** Who is on the other end of an MQTT session, from its credentials. */
export type SessionOwner = { kind: 'staff'; personId: string } | { kind: 'device'; deviceId: string };

/** A client acknowledged (PUBACK) a QoS 1 message on a topic whose receipts the hub tracks. */
export interface MqttReceipt {
  clientId: string;
  owner: SessionOwner;
  topic: string;
  payload: Buffer;
}

/** A session can receive on these filters: it connected with restored ones, or just subscribed. */
export interface MqttSessionReady {
  clientId: string;
  owner: SessionOwner;
  filters: string[];
  /** cleanSession=false: the broker keeps its subscriptions and QoS 1 queue while it is away */
  persistent: boolean;
}

/** Each bus event and its payload type. */
export interface BusEvents {
  'device.changed': DeviceChanged;
  'device.event': DeviceEvent;
  'device.telemetry': DeviceTelemetry;
  'device.status': DeviceStatusReport;
  'device.presence': PresenceChange;
  'ticket.changed': TicketChanged;
  'alert.changed': AlertChanged;
  'alert.notified': AlertNotified;
  'person.delivery': PersonDelivery;
  'alert.requested': AlertRequested;
  'staff.message': StaffMessage;
  'rules.work': RulesWork;
  'journal.committed': JournalCommitted;
  /** disk writes work again after a storage failure: retry what waited for them */
  'storage.recovered': { part: string };
  'mqtt.receipt': MqttReceipt;
  'mqtt.session': MqttSessionReady;
  'access.changed': AccessChanged;
  /** an integration was created, changed or removed: the id only, never its secrets (cluster relay) */
  'integration.changed': { integrationId: string };
}

type Listener<T> = (payload: T) => void | Promise<void>;

/**
 * The in-process event bus. Listeners are isolated: one that throws (or rejects) is logged and the
 * others still run, so a faulty sink never stops a ticket from being raised.
 */
export class Bus {
  private readonly listeners = new Map<keyof BusEvents, Set<Listener<never>>>();

  constructor(private readonly logger: Logger) {}

  on<K extends keyof BusEvents>(event: K, listener: Listener<BusEvents[K]>): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener as Listener<never>);
    return () => set.delete(listener as Listener<never>);
  }

  emit<K extends keyof BusEvents>(event: K, payload: BusEvents[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of set) {
      try {
        const result = (listener as Listener<BusEvents[K]>)(payload);
        if (result instanceof Promise) result.catch((err: unknown) => this.fail(event, err));
      } catch (err) {
        this.fail(event, err);
      }
    }
  }

  private fail(event: keyof BusEvents, err: unknown): void {
    this.logger.error({ err, event }, 'bus listener failed');
  }
}
