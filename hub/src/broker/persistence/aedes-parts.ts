import { createRequire } from 'node:module';
import type { StoredPacket } from './session-file.ts';

/*
 * Topic matching is qlobber's, the same tries (and the same `$`/wildcard rules) aedes' in-memory
 * persistence uses, so a session matches here exactly as it would there.
 */
const require = createRequire(import.meta.url);
export const QLOBBER = { wildcard_one: '+', wildcard_some: '#', separator: '/' };
export interface TrieSub {
  clientId: string;
  topic: string;
  qos: number;
  rh?: number;
  rap?: boolean;
  nl?: boolean;
}
export interface SubTrie {
  subscriptionsCount: number;
  add(topic: string, val: TrieSub): void;
  remove(topic: string, val: { clientId: string; topic: string }): void;
  match(topic: string): TrieSub[];
}
export const QlobberSub = require('qlobber/aedes/qlobber-sub') as new (o: typeof QLOBBER) => SubTrie;
export const { QlobberTrue } = require('qlobber') as {
  QlobberTrue: new (o: typeof QLOBBER) => { add(p: string): void; test(t: string): boolean };
};

/**
 * A copy of a packet as aedes-packet's constructor makes it (without assigning a new broker counter):
 * the fields the broker needs, a fresh object, and no message id yet for QoS > 0 [MQTT-2.3.1-1].
 */
export function copyPacket(original: StoredPacket): StoredPacket {
  const p: StoredPacket = {};
  for (const k of ['clientId', 'nl', 'properties', 'messageExpiry'])
    if (Object.hasOwn(original, k)) p[k] = original[k];
  p.cmd = original.cmd || 'publish';
  p.brokerId = original.brokerId;
  p.brokerCounter = original.brokerCounter || 0;
  p.topic = original.topic;
  p.payload = original.payload || Buffer.alloc(0);
  p.qos = original.qos || 0;
  p.retain = original.retain || false;
  p.dup = original.dup || false;
  if ((p.qos as number) > 0 || p.cmd !== 'publish') p.messageId = undefined;
  return p;
}

/** A queued publish read back from the file, with the message id it had been given. */
export function restorePacket(stored: StoredPacket): StoredPacket {
  const packet = copyPacket(stored);
  if (stored.messageId !== undefined) packet.messageId = stored.messageId;
  return packet;
}
