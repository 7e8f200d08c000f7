import { createHash, randomBytes } from 'node:crypto';
import type { MqttClient } from 'mqtt';

/**
 * What the carrier platforms and a LoRaWAN network server send, so simulated devices (and tests)
 * can reach the hub the way real NB-IoT and LoRaWAN devices do: OneNET signs its pushes, CTWing
 * posts subscription messages, ChirpStack publishes uplink events on its own broker.
 */

export function onenetSignature(token: string, nonce: string, msg: string): string {
  return createHash('md5').update(`${token}${nonce}${msg}`, 'utf8').digest('base64');
}

/** A OneNET push body in plain mode, signed with the integration's token. */
export function onenetBody(token: string, msg: unknown, nonce = randomBytes(4).toString('hex')): string {
  const text = JSON.stringify(msg);
  return `{"msg":${text},"msg_signature":"${onenetSignature(token, nonce, text)}","nonce":"${nonce}"}`;
}

/** A OneNET data point (type 1) of a device. */
export function onenetDataPoint(devId: string, dsId: string, value: unknown, at = Date.now()) {
  return { type: 1, dev_id: Number(devId) || devId, ds_id: dsId, at, value };
}

export function onenetStatus(devId: string, online: boolean, at = Date.now()) {
  return { type: 2, dev_id: Number(devId) || devId, status: online ? 1 : 0, login_type: 10, at };
}

/** A CTWing dataReport: a thing-model payload object, or `{APPdata}` for a transparent product. */
export function ctwingDataReport(
  d: { deviceId: string; imei?: string; productId?: string },
  payload: Record<string, unknown>,
  upPacketSN: number,
  timestamp = Date.now(),
) {
  return {
    messageType: 'dataReport',
    tenantId: '2000000001',
    productId: d.productId ?? '15000001',
    deviceId: d.deviceId,
    ...(d.imei ? { IMEI: d.imei } : {}),
    IMSI: 'undefined',
    deviceType: '',
    protocol: 'lwm2m',
    topic: 'v1/up/ad',
    assocAssetId: '',
    upPacketSN,
    upDataSN: -1,
    serviceId: '',
    timestamp,
    payload,
  };
}

export function ctwingOnlineOffline(d: { deviceId: string }, online: boolean, timestamp = Date.now()) {
  return {
    messageType: 'deviceOnlineOfflineReport',
    tenantId: '2000000001',
    productId: '15000001',
    deviceId: d.deviceId,
    protocol: 'lwm2m',
    eventType: online ? 1 : 0,
    timestamp,
  };
}

/** A ChirpStack v4 uplink event (JSON marshaler): `object` when a codec ran, else `data` (Base64). */
export function chirpstackUp(
  devEui: string,
  applicationId: string,
  body: { object?: Record<string, unknown>; data?: Buffer; fCnt: number; rssi?: number },
) {
  return {
    deduplicationId: `${randomBytes(4).toString('hex')}-0000-4000-8000-${randomBytes(6).toString('hex')}`,
    time: new Date().toISOString(),
    deviceInfo: {
      tenantId: '52f14cd4-c6f1-4fbd-8f87-4025e1d49242',
      tenantName: 'ChirpStack',
      applicationId,
      applicationName: 'gridhub',
      deviceProfileId: 'a5d9b0b1-1f3b-4b4c-9f2e-1d2c3b4a5f6e',
      deviceProfileName: 'leak sensors',
      deviceName: devEui,
      devEui,
      tags: {},
    },
    devAddr: '00b1c2d3',
    adr: true,
    dr: 5,
    fCnt: body.fCnt,
    fPort: 2,
    confirmed: true,
    ...(body.data ? { data: body.data.toString('base64') } : {}),
    ...(body.object ? { object: body.object } : {}),
    rxInfo: [{ gatewayId: '0016c001ff10a235', uplinkId: 1, rssi: body.rssi ?? -87, snr: 7.5 }],
    txInfo: { frequency: 868100000, modulation: { lora: { bandwidth: 125000, spreadingFactor: 7 } } },
  };
}

export function chirpstackTopic(
  applicationId: string,
  devEui: string,
  event: 'up' | 'join' | 'status' | 'ack',
): string {
  return `application/${applicationId}/device/${devEui}/event/${event}`;
}

export async function publishUplink(
  client: MqttClient,
  applicationId: string,
  devEui: string,
  body: Parameters<typeof chirpstackUp>[2],
): Promise<void> {
  await client.publishAsync(
    chirpstackTopic(applicationId, devEui, 'up'),
    JSON.stringify(chirpstackUp(devEui, applicationId, body)),
    {
      qos: 1,
    },
  );
}

/** A random identity of the platform's kind (15-digit IMEI, numeric OneNET dev_id, 16-hex devEui). */
export function randomImei(): string {
  return `86${BigInt(`0x${randomBytes(7).toString('hex')}`)
    .toString()
    .padStart(13, '0')
    .slice(0, 13)}`;
}
export function randomDevEui(): string {
  return randomBytes(8).toString('hex');
}
export function randomOnenetId(): string {
  return String(500_000_000 + randomBytes(3).readUIntBE(0, 3));
}
