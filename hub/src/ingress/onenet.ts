import { createHash } from 'node:crypto';
import type { PlatformMessage } from './ingress-gate.ts';
import {
  messageKey,
  PushRefused,
  parsePush,
  platformTime,
  rawMember,
  sameText,
  str,
} from './platform-common.ts';

/**
 * OneNET (China Mobile) HTTP push, plain mode. The platform verifies the URL with a GET carrying
 * `msg`, `nonce` and `signature` = Base64(MD5(token + nonce + msg)) and expects `msg` back; then it
 * POSTs `{"msg": …, "msg_signature": …, "nonce": …}` where msg is one message or an array of them
 * and msg_signature = Base64(MD5(token + nonce + <msg as sent>)). It retries until it gets a 200.
 */
export function onenetSignature(token: string, nonce: string, msg: string): string {
  return createHash('md5').update(`${token}${nonce}${msg}`, 'utf8').digest('base64');
}

/** A query's Base64 may arrive with '+' decoded to ' ' when the platform did not escape it. */
const unspace = (s: string) => s.replace(/ /g, '+');

export function verifyOnenetUrl(
  token: string,
  q: { msg?: string; nonce?: string; signature?: string },
): string {
  if (!q.msg || !q.nonce || !q.signature)
    throw new PushRefused('GH_ERR_INGRESS_UNAUTHENTICATED', 'verification needs msg, nonce and signature');
  if (!sameText(onenetSignature(token, q.nonce, q.msg), unspace(q.signature)))
    throw new PushRefused('GH_ERR_INGRESS_UNAUTHENTICATED', 'signature does not match the token');
  return q.msg;
}

/** Check a push's signature and turn it into platform messages. */
export function parseOnenetPush(token: string, text: string, receivedAt: number): PlatformMessage[] {
  const body = parsePush(text);
  if ('enc_msg' in body)
    throw new PushRefused(
      'GH_ERR_INGRESS_MALFORMED',
      'security mode (enc_msg) is not supported: set the push to plain mode (明文模式)',
    );
  const nonce = str(body.nonce);
  const signature = str(body.msg_signature);
  const raw = rawMember(text, 'msg');
  if (!nonce || !signature || raw === undefined || body.msg === undefined)
    throw new PushRefused('GH_ERR_INGRESS_UNAUTHENTICATED', 'push without msg, nonce and msg_signature');
  // The signature covers the text of msg as sent; a compact re-serialisation is accepted too,
  // because some gateways in front of OneNET re-encode bodies.
  const ok =
    sameText(onenetSignature(token, nonce, raw), signature) ||
    sameText(onenetSignature(token, nonce, JSON.stringify(body.msg)), signature);
  if (!ok) throw new PushRefused('GH_ERR_INGRESS_UNAUTHENTICATED', 'msg_signature does not match the token');
  const list = Array.isArray(body.msg) ? body.msg : [body.msg];
  return list.map((m) => onenetMessage(m, receivedAt));
}

function onenetMessage(m: unknown, receivedAt: number): PlatformMessage {
  if (typeof m !== 'object' || m === null || Array.isArray(m))
    throw new PushRefused('GH_ERR_INGRESS_MALFORMED', 'each msg must be an object');
  const o = m as Record<string, unknown>;
  const devId = str(o.dev_id);
  const imei = str(o.imei);
  if (!devId && !imei) throw new PushRefused('GH_ERR_INGRESS_MALFORMED', 'msg without dev_id');
  const identities = [
    ...(devId ? [{ field: 'platformDeviceId' as const, value: devId }] : []),
    ...(imei ? [{ field: 'imei' as const, value: imei }] : []),
  ];
  const at = platformTime(o.at, receivedAt);
  const excerpt = JSON.stringify(o).slice(0, 300);
  const base = { identities, at, excerpt };
  switch (o.type) {
    case 1: {
      const ds = str(o.ds_id);
      if (!ds || o.value === undefined)
        throw new PushRefused('GH_ERR_INGRESS_MALFORMED', 'data point (type 1) without ds_id and value');
      const messageId = messageKey('on', at, ds);
      const v = o.value;
      if (typeof v === 'string') {
        // A string value is the device's frame (NB-IoT opaque resources arrive as hex).
        const encoding = /^([0-9a-fA-F]{2})+$/.test(v) ? 'hex' : 'base64';
        return { ...base, kind: 'data', messageId, frame: { text: v, encoding } };
      }
      const json =
        typeof v === 'object' && v !== null && !Array.isArray(v)
          ? (v as Record<string, unknown>)
          : { [ds]: v };
      return { ...base, kind: 'data', messageId, json };
    }
    case 2: {
      const online = o.status === 1 || o.status === '1';
      return { ...base, kind: online ? 'online' : 'offline', messageId: messageKey('on', at, 'status') };
    }
    case 7: {
      const cmd = str(o.cmd_id);
      if (!cmd) throw new PushRefused('GH_ERR_INGRESS_MALFORMED', 'command result (type 7) without cmd_id');
      // cmd_type 1: the device acknowledged the command; 2: it confirmed carrying it out.
      const outcome = o.cmd_type === 2 || o.cmd_type === '2' ? 'done' : 'acknowledged';
      return {
        ...base,
        kind: 'command-result',
        messageId: messageKey('on', at, 'cmd', cmd),
        command: { platformId: cmd, outcome },
      };
    }
    default:
      return { ...base, kind: 'ignored', messageId: messageKey('on', at, 'other') };
  }
}
