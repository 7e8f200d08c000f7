import { covers, type Principal } from '../auth/principal.ts';
import {
  commandAckDevice,
  deviceTopicPrefix,
  HUB_TOPIC_PREFIX,
  parseDeviceTopic,
  parseTopic,
  personOfTopic,
  SCOPED_STAFF_KINDS,
  STAFF_REQUEST_TOPICS,
  topicFor,
} from '../contract/topics.ts';
import type { KnownDevice } from './device-directory.ts';
import type { MessageScope } from './message-scope.ts';

/** Who is on the other end of an MQTT connection, fixed at CONNECT from the credentials. */
export type ClientIdentity =
  | { kind: 'device'; device: KnownDevice }
  | { kind: 'staff'; principal: Principal };

/**
 * May this client publish here? Devices only under their own id (DESIGN.md contract 2), never on
 * their own command topic; `$SYS/` is never writable (aedes #597). A device topic under its own id
 * that the contract does not know passes here and is dropped by the broker as GH_ERR_TOPIC_UNKNOWN.
 */
export function publishAllowed(identity: ClientIdentity, topic: string): boolean {
  if (topic.startsWith('$')) return false;
  if (identity.kind === 'device') {
    // its answers to commands (cmd/ack), under its own id only
    if (commandAckDevice(topic) !== undefined) return commandAckDevice(topic) === identity.device.deviceId;
    if (!topic.startsWith(deviceTopicPrefix(identity.device.deviceId))) return false;
    return parseDeviceTopic(topic)?.kind !== 'command';
  }
  return STAFF_REQUEST_TOPICS.some((name) => parseTopic(name, topic) !== undefined);
}

/**
 * May this client subscribe to this filter? A device only to its own command topic; staff only to
 * hub output topics (what they receive there is further filtered per message by jurisdiction).
 */
export function subscribeAllowed(identity: ClientIdentity, filter: string): boolean {
  if (identity.kind === 'device') return filter === topicFor('command', identity.device);
  if (!filter.startsWith(HUB_TOPIC_PREFIX)) return false;
  // personal topics (a recipient's own alerts) are readable by that person only
  const person = personOfTopic(filter);
  if (person !== undefined) return person === identity.principal.personId;
  // A filter that names a grid node must name one the person may see (checked by the caller with
  // the node's path); wildcards are allowed and narrowed per message in forwardAllowed.
  return true;
}

/**
 * Hub output topics carry their scope: `gh/v1/hub/<kind>/<gridNodeId>/<siteId>/…`. A message is
 * forwarded to a staff client only when its grid node (or, for property managers, its site) lies in
 * the client's jurisdiction.
 */
export function hubTopicScope(topic: string): { gridNodeId: string; siteId: string | undefined } | undefined {
  if (!topic.startsWith(HUB_TOPIC_PREFIX)) return undefined;
  const [kind, gridNodeId, siteId] = topic.slice(HUB_TOPIC_PREFIX.length).split('/');
  // Only declared output kinds carry a grid node there: `ack/<alertId>` must never be read as one.
  if (!gridNodeId || !kind || !SCOPED_STAFF_KINDS.has(kind)) return undefined;
  return { gridNodeId, siteId };
}

/**
 * May this hub message go to this client? A device gets its own command topic only; a person their
 * own personal topics, and scoped hub topics only within their jurisdiction, judged by the scope
 * the message was published with (a scoped message without one goes to nobody).
 */
export function forwardAllowed(
  identity: ClientIdentity,
  topic: string,
  scope: MessageScope | undefined,
): boolean {
  if (identity.kind === 'device') return topic === topicFor('command', identity.device);
  const person = personOfTopic(topic);
  if (person !== undefined) return person === identity.principal.personId;
  if (!hubTopicScope(topic) || !scope) return false;
  return covers(identity.principal.jurisdiction, { gridPath: scope.gridPath, siteId: scope.siteId });
}
