import type { TSchema } from 'typebox';
import { DeviceEventMessageSchema, PresenceChangeSchema } from './device-event.ts';
import { CommandAckSchema, CommandSchema, StatusSchema } from './payloads.ts';
import { compileProjection, type Projection } from './projection.ts';
import {
  AckRequestSchema,
  AlertChangeSchema,
  PersonAlertSchema,
  PersonMessageSchema,
  TicketChangedSchema,
} from './staff-messages.ts';

/**
 * Every MQTT topic of gridhub, its direction and its payload schema (DESIGN.md contract 3).
 * Device telemetry and event payloads depend on the device's model; their schemas are on the
 * model record (hub/src/devices/models) and listed per model in the README.
 */
export const TOPIC_ROOT = 'gh/v1';

export type Direction = 'device→hub' | 'hub→device' | 'hub→staff' | 'staff→hub';

export interface TopicSpec {
  name: string;
  pattern: string;
  direction: Direction;
  qos: 0 | 1;
  retained: boolean;
  /** the payload schema ('per-model' for device payloads); hub → staff messages are serialised through it */
  payload: TSchema | 'per-model';
  description: string;
}

export const TOPICS = {
  telemetry: {
    name: 'telemetry',
    pattern: `${TOPIC_ROOT}/dev/{deviceId}/telemetry`,
    direction: 'device→hub',
    qos: 0,
    retained: false,
    payload: 'per-model',
    description: 'Periodic readings; also counts as a heartbeat.',
  },
  event: {
    name: 'event',
    pattern: `${TOPIC_ROOT}/dev/{deviceId}/event`,
    direction: 'device→hub',
    qos: 1,
    retained: false,
    payload: 'per-model',
    description: 'Alarms, restores, faults, presses and self-tests; each with a device-unique eventId.',
  },
  status: {
    name: 'status',
    pattern: `${TOPIC_ROOT}/dev/{deviceId}/status`,
    direction: 'device→hub',
    qos: 1,
    retained: true,
    payload: StatusSchema,
    description: 'Birth message {"state":"online"} on connect; last will {"state":"offline"}.',
  },
  command: {
    name: 'command',
    pattern: `${TOPIC_ROOT}/dev/{deviceId}/cmd`,
    direction: 'hub→device',
    qos: 1,
    retained: false,
    payload: CommandSchema,
    description:
      'Commands to one device (silence, self-test, configure); the device subscribes to its own only.',
  },
  commandAck: {
    name: 'commandAck',
    pattern: `${TOPIC_ROOT}/dev/{deviceId}/cmd/ack`,
    direction: 'device→hub',
    qos: 1,
    retained: false,
    payload: CommandAckSchema,
    description:
      'The device answers a command: accepted, then done or failed (or rejected), with its commandId.',
  },
  hubEvent: {
    name: 'hubEvent',
    pattern: `${TOPIC_ROOT}/hub/event/{gridNodeId}/{siteId}/{deviceId}`,
    direction: 'hub→staff',
    qos: 1,
    retained: false,
    payload: DeviceEventMessageSchema,
    description:
      'Every accepted device event, normalised. Staff clients receive only what lies in their jurisdiction.',
  },
  hubPresence: {
    name: 'hubPresence',
    pattern: `${TOPIC_ROOT}/hub/presence/{gridNodeId}/{siteId}/{deviceId}`,
    direction: 'hub→staff',
    qos: 1,
    retained: false,
    payload: PresenceChangeSchema,
    description: 'A device went online or offline (connect, message, last will, deadline).',
  },
  hubTicket: {
    name: 'hubTicket',
    pattern: `${TOPIC_ROOT}/hub/ticket/{gridNodeId}/{siteId}/{id}`,
    direction: 'hub→staff',
    qos: 1,
    retained: false,
    payload: TicketChangedSchema,
    description: 'A ticket was raised, acted on or escalated (siteId is "-" for tickets without a site).',
  },
  hubAlert: {
    name: 'hubAlert',
    pattern: `${TOPIC_ROOT}/hub/alert/{gridNodeId}/{siteId}/{id}`,
    direction: 'hub→staff',
    qos: 1,
    retained: false,
    payload: AlertChangeSchema,
    description:
      'An alert was raised, upgraded, escalated, acknowledged or resolved (siteId "-" without a site).',
  },
  personAlert: {
    name: 'personAlert',
    pattern: `${TOPIC_ROOT}/hub/person/{personId}/alert`,
    direction: 'hub→staff',
    qos: 1,
    retained: false,
    payload: PersonAlertSchema,
    description:
      'An alert for this person (a recipient in the escalation chain); readable by that person only.',
  },
  personMessage: {
    name: 'personMessage',
    pattern: `${TOPIC_ROOT}/hub/person/{personId}/message`,
    direction: 'hub→staff',
    qos: 1,
    retained: false,
    payload: PersonMessageSchema,
    description: 'A message sent to this person (POST /api/v1/notify); readable by that person only.',
  },
  staffAck: {
    name: 'staffAck',
    pattern: `${TOPIC_ROOT}/hub/ack/{alertId}`,
    direction: 'staff→hub',
    qos: 1,
    retained: false,
    payload: AckRequestSchema,
    description:
      'A leader app acknowledges an alert it may see; the only topic staff may publish to. Never forwarded to anyone.',
  },
} as const satisfies Record<string, TopicSpec>;

type ParamNames<P extends string> = P extends `${string}{${infer K}}${infer Rest}`
  ? K | ParamNames<Rest>
  : never;

export type TopicName = keyof typeof TOPICS;
/** The placeholders of a topic's pattern, as an object: `{ personId: string }` for `personAlert`. */
export type TopicParams<N extends TopicName> = Record<ParamNames<(typeof TOPICS)[N]['pattern']>, string>;

const SEGMENT = '[^/+#]+';
const COMPILED = new Map<TopicName, { re: RegExp; keys: string[] }>(
  (Object.keys(TOPICS) as TopicName[]).map((name) => {
    const pattern: string = TOPICS[name].pattern;
    const keys = [...pattern.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string);
    return [name, { re: new RegExp(`^${pattern.replace(/\{\w+\}/g, `(${SEGMENT})`)}$`), keys }];
  }),
);

/** Fill a topic pattern's `{placeholders}`; a value that is empty or holds `/`, `+` or `#` is refused. */
export function fillTopic(pattern: string, values: object): string {
  return pattern.replace(/\{(\w+)\}/g, (_, key: string) => {
    const value = (values as Record<string, unknown>)[key];
    if (typeof value !== 'string' || !/^[^/+#]+$/.test(value))
      throw new Error(`topic ${pattern} needs a topic level for ${key}`);
    return value;
  });
}

/** The concrete topic of a contract topic: `topicFor('personAlert', { personId })`. */
export function topicFor<N extends TopicName>(name: N, params: TopicParams<N>): string {
  return fillTopic(TOPICS[name].pattern, params);
}

/** The placeholders of a concrete topic when it is this contract topic, else undefined. */
export function parseTopic<N extends TopicName>(name: N, topic: string): TopicParams<N> | undefined {
  const c = COMPILED.get(name);
  const m = c?.re.exec(topic);
  if (!c || !m) return undefined;
  return Object.fromEntries(c.keys.map((k, i) => [k, m[i + 1] as string])) as TopicParams<N>;
}

/**
 * The subscription filter for every topic of a kind: `gh/v1/hub/alert/#` when all levels after the
 * kind are placeholders, else each placeholder a `+` (`gh/v1/hub/person/+/alert`).
 */
export function topicFilter(name: TopicName): string {
  const pattern: string = TOPICS[name].pattern;
  const levels = pattern.split('/');
  const first = levels.findIndex((l) => /^\{\w+\}$/.test(l));
  if (first > 0 && levels.slice(first).every((l) => /^\{\w+\}$/.test(l)))
    return [...levels.slice(0, first), '#'].join('/');
  return pattern.replace(/\{\w+\}/g, '+');
}

export type DeviceTopicKind = 'telemetry' | 'event' | 'status' | 'command';
const DEVICE_KINDS: readonly DeviceTopicKind[] = ['telemetry', 'event', 'status', 'command'];

/** Parse a device topic; undefined when the topic is not a device topic of the contract. */
export function parseDeviceTopic(topic: string): { deviceId: string; kind: DeviceTopicKind } | undefined {
  for (const kind of DEVICE_KINDS) {
    const p = parseTopic(kind, topic);
    if (p) return { deviceId: p.deviceId, kind };
  }
  return undefined;
}

/** The device id of a `cmd/ack` topic; undefined for any other topic. */
export function commandAckDevice(topic: string): string | undefined {
  return parseTopic('commandAck', topic)?.deviceId;
}

/** Where a device's own topics start (`gh/v1/dev/<id>/`): what it may publish under. */
export const deviceTopicPrefix = (deviceId: string) => `${TOPIC_ROOT}/dev/${deviceId}/`;

/** Hub topics, the only ones staff clients may subscribe to. */
export const HUB_TOPIC_PREFIX = `${TOPIC_ROOT}/hub/`;

/** Topics readable by one person only: `gh/v1/hub/person/<personId>/…` (alerts and messages to them). */
const PERSON_PREFIX = TOPICS.personAlert.pattern.slice(0, TOPICS.personAlert.pattern.indexOf('{personId}'));

/** The person a personal topic (or a filter under one) belongs to; undefined for any other topic. */
export function personOfTopic(topicOrFilter: string): string | undefined {
  if (!topicOrFilter.startsWith(PERSON_PREFIX)) return undefined;
  return topicOrFilter.slice(PERSON_PREFIX.length).split('/')[0];
}

/** The topics staff clients may publish to (requests to the hub: an alert acknowledgement). */
export const STAFF_REQUEST_TOPICS: readonly TopicName[] = (Object.keys(TOPICS) as TopicName[]).filter(
  (n) => TOPICS[n].direction === 'staff→hub',
);

/** Hub → staff topics with their compiled projections, matched by pattern. */
const STAFF_OUTPUT: { name: TopicName; spec: TopicSpec; project: Projection }[] = (
  Object.keys(TOPICS) as TopicName[]
)
  .filter((n) => TOPICS[n].direction === 'hub→staff' && typeof TOPICS[n].payload !== 'string')
  .map((name) => ({
    name,
    spec: TOPICS[name] as TopicSpec,
    project: compileProjection(TOPICS[name].payload as TSchema),
  }));

/** The declared hub → staff topic a concrete topic belongs to, with its projection; undefined if none. */
export function staffOutputTopic(topic: string): { spec: TopicSpec; project: Projection } | undefined {
  return STAFF_OUTPUT.find((t) => parseTopic(t.name, topic) !== undefined);
}

/**
 * Kinds of hub → staff topics whose second level is a grid node (`gh/v1/hub/<kind>/{gridNodeId}/…`):
 * forwarded to a staff client only within its jurisdiction.
 */
export const SCOPED_STAFF_KINDS: ReadonlySet<string> = new Set(
  STAFF_OUTPUT.map(
    (t) => new RegExp(`^${TOPIC_ROOT}/hub/([^/]+)/{gridNodeId}/`).exec(t.spec.pattern)?.[1],
  ).filter((k): k is string => k !== undefined),
);
