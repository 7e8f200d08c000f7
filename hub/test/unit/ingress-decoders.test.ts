/**
 * Issue 20, pure parts: the byte-frame decoder and JSON mapping run on the two shipped vendor
 * records' documented frames, OneNET signatures over msg as sent, and the replay-safe message ids.
 */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { applyMapping, decodeFrame } from '../../src/devices/models/frame.ts';
import { riverlinkLoraLeakModel } from '../../src/devices/models/vendor-lora-water-leak.ts';
import { anxinNbSmokeModel } from '../../src/devices/models/vendor-nb-smoke-binary.ts';
import { chirpstackMessage } from '../../src/ingress/chirpstack.ts';
import { commandOutcome, parseCtwingPush } from '../../src/ingress/ctwing.ts';
import { onenetSignature, parseOnenetPush } from '../../src/ingress/onenet.ts';
import { ctwingSignature } from '../../src/ingress/platform-commands.ts';
import { messageKey, rawMember } from '../../src/ingress/platform-common.ts';

const hex = (h: string) => Buffer.from(h.replace(/ /g, ''), 'hex');
const smoke = anxinNbSmokeModel.frame as NonNullable<typeof anxinNbSmokeModel.frame>;

describe('byte frames as model data', () => {
  it('decodes the smoke detector’s documented heartbeat and events', () => {
    expect(decodeFrame(smoke, hex('A5 01 57 00 03 17 FC 4E 0C 00'))).toEqual({
      ok: true,
      kind: 'telemetry',
      fields: { battery: 87, smokeDensity: 0.03, temperature: 23, rsrp: -94.6, snr: 12 },
    });
    expect(decodeFrame(smoke, hex('A5 02 01 07 00 2D'))).toEqual({
      ok: true,
      kind: 'event',
      fields: { type: 'smoke.alarm', smokeDensity: 0.45 },
    });
    expect(decodeFrame(smoke, hex('A5 02 08 08 FF FF'))).toEqual({
      ok: true,
      kind: 'event',
      fields: { type: 'selftest', result: 'ok' },
    });
  });

  it('refuses what it cannot read instead of guessing', () => {
    expect(decodeFrame(smoke, hex('A6 02 01 07 00 2D'))).toMatchObject({ ok: false });
    expect(decodeFrame(smoke, hex('A5 03 01'))).toMatchObject({
      ok: false,
      reason: 'unknown frame type 0x03',
    });
    expect(decodeFrame(smoke, hex('A5 02 7F 01'))).toMatchObject({
      ok: false,
      reason: expect.stringContaining('unknown code 127'),
    });
    expect(decodeFrame(smoke, hex('A5 01 57'))).toMatchObject({
      ok: false,
      reason: expect.stringContaining('needs 9 bytes'),
    });
  });

  it('decodes the LoRaWAN leak sensor’s frames and maps a codec’s object', () => {
    const leak = riverlinkLoraLeakModel.frame as NonNullable<typeof riverlinkLoraLeakModel.frame>;
    expect(decodeFrame(leak, hex('02 01 59'))).toEqual({ ok: true, kind: 'event', fields: { type: 'leak' } });
    expect(decodeFrame(leak, hex('01 5A 00 00'))).toEqual({
      ok: true,
      kind: 'telemetry',
      fields: { battery: 90 },
    });
    expect(applyMapping(riverlinkLoraLeakModel.jsonMapping, { alarm: 'clear', battery: 88 })).toEqual({
      ok: true,
      kind: 'event',
      fields: { type: 'leak.clear', battery: 88 },
    });
    expect(applyMapping(riverlinkLoraLeakModel.jsonMapping, { alarm: 'smoke' })).toMatchObject({ ok: false });
  });
});

describe('platform messages', () => {
  it('OneNET: the signature covers msg exactly as sent, and a forged one is refused', () => {
    const msg = '{"type":1, "dev_id":42,"ds_id":"3200_0_5750","at":1700000000000,"value":"a5020107002d"}';
    const body = `{"msg": ${msg}, "msg_signature":"${onenetSignature('tok', 'abcd1234', msg)}","nonce":"abcd1234"}`;
    expect(rawMember(body, 'msg')).toBe(msg);
    const [m] = parseOnenetPush('tok', body, 1700000000500);
    expect(m).toMatchObject({
      kind: 'data',
      at: 1700000000000,
      identities: [{ field: 'platformDeviceId', value: '42' }],
      frame: { text: 'a5020107002d', encoding: 'hex' },
    });
    expect(() => parseOnenetPush('other', body, 0)).toThrow(/msg_signature/);
    expect(() => parseOnenetPush('tok', body.replace('"at":1700000000000', '"at":1700000000001'), 0)).toThrow(
      /msg_signature/,
    );
  });

  it('CTWing: the same report always has the same event id; a new uplink another', () => {
    const report = (sn: number) =>
      JSON.stringify({
        messageType: 'dataReport',
        deviceId: 'd1',
        IMEI: '861234567890123',
        timestamp: 1700000000000,
        upPacketSN: sn,
        payload: { APPdata: 'pQIBBwAt' },
      });
    const a = parseCtwingPush(report(5), 0);
    expect(a.messageId).toBe(parseCtwingPush(report(5), 99).messageId);
    expect(a.messageId).not.toBe(parseCtwingPush(report(6), 0).messageId);
    expect(a.frame).toEqual({ text: 'pQIBBwAt', encoding: 'base64' });
    expect(messageKey('x', 'y'.repeat(100)).length).toBeLessThanOrEqual(64);
  });
});

describe('platform command messages', () => {
  it('CTWing command states: only DELIVERED and the outcomes move a command; an unknown state moves nothing', () => {
    const states = ['SAVED', 'SENT', 'DELIVERED', 'SUCCESSFUL', 'FAILED', 'TIMEOUT', 'CANCELED', 'WHATEVER'];
    expect(states.map(commandOutcome)).toEqual([
      'pending',
      'pending',
      'delivered',
      'done',
      'failed',
      'failed',
      'failed',
      'pending',
    ]);
    const push = (resultCode: string) =>
      parseCtwingPush(
        JSON.stringify({
          messageType: 'commandResponse',
          deviceId: 'd1',
          taskId: 7,
          timestamp: 1,
          result: { resultCode },
        }),
        1,
      );
    // DELIVERED then SUCCESSFUL for the same task at the same time are two messages, not a retry
    expect(push('DELIVERED').messageId).not.toBe(push('SUCCESSFUL').messageId);
    expect(push('SUCCESSFUL').command).toEqual({ platformId: '7', outcome: 'done', detail: 'SUCCESSFUL' });
  });

  it('CTWing device lifecycle types are matched exactly', () => {
    const kind = (messageType: string) =>
      parseCtwingPush(JSON.stringify({ messageType, deviceId: 'd1', timestamp: 1 }), 1).kind;
    expect(['deviceAdded', 'deviceCreated', 'DEVICEDELETED', 'deviceRemoved'].map(kind)).toEqual([
      'announced',
      'announced',
      'removed',
      'removed',
    ]);
    expect(['deviceAddress', 'deviceCreationLog', 'eventReport'].map(kind)).toEqual([
      'ignored',
      'ignored',
      'ignored',
    ]);
  });

  it('ChirpStack ack: a device ACK is delivered, a missing one failed; no queue item id is malformed', () => {
    const ack = (o: Record<string, unknown>) =>
      chirpstackMessage(
        'ack',
        Buffer.from(JSON.stringify({ deviceInfo: { devEui: '01' }, deduplicationId: 'x', ...o })),
        1,
      );
    expect(ack({ queueItemId: 'q1', acknowledged: true })).toMatchObject({
      kind: 'command-result',
      command: { platformId: 'q1', outcome: 'delivered' },
    });
    expect(ack({ queueItemId: 'q1', acknowledged: false })).toMatchObject({ command: { outcome: 'failed' } });
    expect(ack({ acknowledged: true })).toEqual({ error: 'ack without queueItemId' });
  });

  it('CTWing’s signature string: application, timestamp, the signed parameters in name order, the body', () => {
    const sig = ctwingSignature(
      's3cret',
      'app1',
      '1700000000000',
      { b: '2', MasterKey: 'mk', a: '1' },
      '{"x":1}',
    );
    const text = 'application:app1\ntimestamp:1700000000000\nMasterKey:mk\na:1\nb:2\n{"x":1}\n';
    expect(sig).toBe(createHmac('sha1', 's3cret').update(text).digest('base64'));
    // without a body (GET), no trailing body line
    const get = ctwingSignature('s3cret', 'app1', '1', {}, '');
    expect(get).toBe(createHmac('sha1', 's3cret').update('application:app1\ntimestamp:1\n').digest('base64'));
  });
});
