import { SmokeEventSchema, SmokeTelemetrySchema } from '../../contract/payloads.ts';
import { defineModel } from './model.ts';
import { batterySettings } from './settings.ts';

/**
 * A binary NB-IoT smoke detector on a carrier platform (CTWing transparent transmission: the frame
 * is the Base64 `APPdata`; OneNET: the hex `value` of its data stream). The layout follows the
 * common shape of Chinese NB-IoT smoke units (start byte, frame type, fixed offsets, big-endian);
 * the vendor ("Anxin", fictional) stands for them. All numbers big-endian.
 *
 * Heartbeat, frame type 0x01, 10 bytes (daily, and after every power-up):
 *
 *   offset  len  field         encoding
 *   0       1    start         0xA5
 *   1       1    frame type    0x01
 *   2       1    battery       % (0–100)
 *   3       2    smokeDensity  uint16 × 0.01 dB/m
 *   5       1    temperature   int8 °C
 *   6       2    rsrp          int16 × 0.1 dBm (the module's RSRP in tenths)
 *   8       1    snr           int8 dB
 *   9       1    reserved
 *
 *   A5 01 57 00 03 17 FC 4E 0C 00  →  telemetry {battery: 87, smokeDensity: 0.03, temperature: 23,
 *                                       rsrp: -94.6, snr: 12}
 *
 * Event, frame type 0x02, 6 bytes (sent at once, repeated by the unit until the platform acks):
 *
 *   offset  len  field         encoding
 *   0       1    start         0xA5
 *   1       1    frame type    0x02
 *   2       1    event code    0x01 smoke.alarm, 0x02 smoke.clear, 0x03 fault, 0x04 fault.clear,
 *                              0x05 battery.low, 0x06 tamper, 0x07 tamper.restore, 0x08 selftest ok,
 *                              0x09 selftest failed, 0x0A silenced, 0x0B end_of_life
 *   3       1    sequence      wraps at 256 (so it is not an event id on its own)
 *   4       2    smokeDensity  uint16 × 0.01 dB/m, 0xFFFF = not measured
 *
 *   A5 02 01 07 00 2D  →  event {type: 'smoke.alarm', smokeDensity: 0.45}
 *   A5 02 08 08 FF FF  →  event {type: 'selftest', result: 'ok'}
 *
 * Commands, down through the platform (CTWing transparent payload, OneNET /cmds body), 3 bytes:
 *
 *   A5 10 01  silence the sounder (answered by an event 0x0A silenced)
 *   A5 10 02  run a self-test (answered by an event 0x08 / 0x09 with the result)
 *
 * Its settings (configure) are set on site with the vendor's tool, not over the air.
 *
 * The platform's message id (CTWing timestamp + upPacketSN, OneNET at + ds_id) is the event id, so a
 * platform retry is a duplicate and a unit's repeat of the same alarm an ordinary repeat.
 */
export const anxinNbSmokeModel = defineModel({
  id: 'anxin-nb-smoke-bin',
  type: 'smoke-detector',
  vendor: 'anxin',
  name: { zh: '安信NB-IoT烟感(二进制帧)', en: 'Anxin NB-IoT smoke detector (binary frame)' },
  eventSchema: SmokeEventSchema,
  telemetrySchema: SmokeTelemetrySchema,
  heartbeatIntervalSeconds: 24 * 3600,
  offlineGraceSeconds: 3600,
  power: 'battery',
  defaultRules: ['smoke-alarm', 'alert-restore', 'device-health', 'presence'],
  commands: ['silence', 'selftest', 'configure'],
  settingsSchema: batterySettings,
  commandFrames: { silence: 'a51001', selftest: 'a51002' },
  frame: {
    encoding: 'base64',
    magic: 'a5',
    selector: { offset: 1 },
    frames: {
      1: {
        kind: 'telemetry',
        minLength: 9,
        fields: [
          { name: 'battery', offset: 2, length: 1 },
          { name: 'smokeDensity', offset: 3, length: 2, scale: 0.01 },
          { name: 'temperature', offset: 5, length: 1, signed: true },
          { name: 'rsrp', offset: 6, length: 2, signed: true, scale: 0.1 },
          { name: 'snr', offset: 8, length: 1, signed: true },
        ],
      },
      2: {
        kind: 'event',
        minLength: 4,
        fields: [
          {
            name: 'code',
            offset: 2,
            length: 1,
            codes: {
              1: { type: 'smoke.alarm' },
              2: { type: 'smoke.clear' },
              3: { type: 'fault' },
              4: { type: 'fault.clear' },
              5: { type: 'battery.low' },
              6: { type: 'tamper' },
              7: { type: 'tamper.restore' },
              8: { type: 'selftest', result: 'ok' },
              9: { type: 'selftest', result: 'failed' },
              10: { type: 'silenced' },
              11: { type: 'end_of_life' },
            },
          },
          { name: 'smokeDensity', offset: 4, length: 2, scale: 0.01, absent: 0xffff },
        ],
      },
    },
  },
});
