import type { PlatformCommandResult } from '../commands/command-carrier.ts';
import type { PlatformMessage } from './ingress-gate.ts';
import { messageKey, PushRefused, parsePush, platformTime, str } from './platform-common.ts';

/**
 * CTWing / AEP (China Telecom) subscription push: one JSON object per POST, told apart by
 * `messageType`. A transparent product's payload is `{"APPdata": <Base64 frame>}`; a product with
 * a thing model (物模型) pushes its decoded properties as the payload object. CTWing signs nothing,
 * so the push is authenticated by the hub's own token in the URL (and, when set, the source
 * addresses of CTWing's push servers); see the routes.
 */
export function parseCtwingPush(text: string, receivedAt: number): PlatformMessage {
  const o = parsePush(text);
  const type = str(o.messageType);
  if (!type) throw new PushRefused('GH_ERR_INGRESS_MALFORMED', 'push without messageType');
  const deviceId = str(o.deviceId);
  const imei = str(o.IMEI) ?? str(o.imei);
  const identities = [
    ...(deviceId ? [{ field: 'platformDeviceId' as const, value: deviceId }] : []),
    ...(imei ? [{ field: 'imei' as const, value: imei }] : []),
  ];
  if (identities.length === 0)
    throw new PushRefused('GH_ERR_INGRESS_MALFORMED', 'push without deviceId or IMEI');
  const at = platformTime(o.timestamp, receivedAt);
  const base = { identities, at, excerpt: text.slice(0, 300) };
  switch (type) {
    case 'dataReport': {
      const payload = o.payload;
      if (typeof payload !== 'object' || payload === null || Array.isArray(payload))
        throw new PushRefused('GH_ERR_INGRESS_MALFORMED', 'dataReport without a payload object');
      const p = payload as Record<string, unknown>;
      // upPacketSN numbers the device's uplinks; with the platform time it names this report in
      // every retry of the push (CTWing resends the same body).
      const messageId = messageKey('ct', at, str(o.upPacketSN) ?? '', str(o.upDataSN) ?? '');
      if (typeof p.APPdata === 'string')
        return { ...base, kind: 'data', messageId, frame: { text: p.APPdata, encoding: 'base64' } };
      const { serviceId: _, ...json } = p;
      return { ...base, kind: 'data', messageId, json };
    }
    case 'deviceOnlineOfflineReport': {
      // eventType 1: online, 0: offline
      const online = o.eventType === 1 || o.eventType === '1';
      return { ...base, kind: online ? 'online' : 'offline', messageId: messageKey('ct', at, 'status') };
    }
    case 'commandResponse': {
      const task = str(o.taskId);
      const result = (o.result ?? {}) as Record<string, unknown>;
      const code = str(result.resultCode) ?? '';
      if (!task) throw new PushRefused('GH_ERR_INGRESS_MALFORMED', 'commandResponse without taskId');
      return {
        ...base,
        kind: 'command-result',
        messageId: messageKey('ct', at, 'cmd', task, code),
        command: {
          platformId: task,
          outcome: commandOutcome(code),
          detail: str(result.resultDetail) ?? (code || undefined),
        },
      };
    }
    default: {
      const lifecycle = DEVICE_LIFECYCLE[type.toLowerCase()];
      if (lifecycle) return { ...base, kind: lifecycle, messageId: messageKey('ct', at, type) };
      // eventReport, dataReportTupUnion and the rest: answered, not processed.
      return { ...base, kind: 'ignored', messageId: messageKey('ct', at, type) };
    }
  }
}

/**
 * CTWing's command states (指令状态): SAVED / SENT are still at the platform (SENT: sent, no
 * receipt yet); DELIVERED: the device's module acknowledged it; SUCCESSFUL / FAILED: the device's
 * answer; TIMEOUT / CANCELED: the platform gave up. An unknown code is shown, never guessed done.
 */
export function commandOutcome(code: string): PlatformCommandResult['outcome'] {
  switch (code.toUpperCase()) {
    case 'SAVED':
    case 'SENT':
      return 'pending';
    case 'DELIVERED':
      return 'delivered';
    case 'SUCCESSFUL':
    case 'SUCCESS':
      return 'done';
    case 'FAILED':
    case 'TIMEOUT':
    case 'CANCELED':
    case 'CANCELLED':
      return 'failed';
    default:
      return 'pending';
  }
}

/**
 * Device lifecycle notices of a product's subscription (设备增删), by message type, lower-cased:
 * added — listed as unmatched until an installer registers it; removed — the platform will send
 * nothing more for it, which the installer sees in its commissioning view. Exact names only: a
 * type not listed here is answered and ignored, not taken for either.
 */
export const DEVICE_LIFECYCLE: Record<string, 'announced' | 'removed'> = {
  deviceadded: 'announced',
  devicecreated: 'announced',
  deviceadd: 'announced',
  devicedeleted: 'removed',
  deviceremoved: 'removed',
  devicedelete: 'removed',
};
