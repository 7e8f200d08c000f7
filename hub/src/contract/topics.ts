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

/** Fill a topic pattern's `{placeholders}`. */
export function fillTopic(pattern: string, values: object): string {
  return pattern.replace(/\{(\w+)\}/g, (_, key: string) => {
    const value = (values as Record<string, unknown>)[key];
    if (typeof value !== 'string') throw new Error(`topic ${pattern} needs ${key}`);
    return value;
  });
}

export type DeviceTopicKind = 'telemetry' | 'event' | 'status' | 'command';

const DEVICE_TOPIC = new RegExp(`^${TOPIC_ROOT}/dev/([^/+#]+)/(telemetry|event|status|cmd)$`);

/** Parse a device topic; undefined when the topic is not a device topic of the contract. */
export function parseDeviceTopic(topic: string): { deviceId: string; kind: DeviceTopicKind } | undefined {
  const m = DEVICE_TOPIC.exec(topic);
  if (!m) return undefined;
  const kind = m[2] === 'cmd' ? 'command' : (m[2] as DeviceTopicKind);
  return { deviceId: m[1] as string, kind };
}

export function deviceTopic(deviceId: string, kind: DeviceTopicKind): string {
  return `${TOPIC_ROOT}/dev/${deviceId}/${kind === 'command' ? 'cmd' : kind}`;
}

const COMMAND_ACK_TOPIC = new RegExp(`^${TOPIC_ROOT}/dev/([^/+#]+)/cmd/ack$`);

/** The device id of a `cmd/ack` topic; undefined for any other topic. */
export function commandAckDevice(topic: string): string | undefined {
  return COMMAND_ACK_TOPIC.exec(topic)?.[1];
}

/** Hub → staff topics with their compiled projections, matched by pattern. */
const STAFF_OUTPUT: { re: RegExp; spec: TopicSpec; project: Projection }[] = Object.values(
  TOPICS as Record<string, TopicSpec>,
)
  .filter((t) => t.direction === 'hub→staff' && typeof t.payload !== 'string')
  .map((t) => ({
    re: new RegExp(`^${t.pattern.replace(/\{\w+\}/g, '[^/+#]+')}$`),
    spec: t,
    project: compileProjection(t.payload as TSchema),
  }));

/** The declared hub → staff topic a concrete topic belongs to, with its projection; undefined if none. */
export function staffOutputTopic(topic: string): { spec: TopicSpec; project: Projection } | undefined {
  return STAFF_OUTPUT.find((t) => t.re.test(topic));
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
