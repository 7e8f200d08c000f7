import Type from 'typebox';
import { SmokeTelemetrySchema } from '../../contract/payloads.ts';
import { defineModel } from './model.ts';
import { batterySettings } from './settings.ts';

/**
 * An example vendor record whose wire format differs from the generic one: numeric status codes and
 * an inverted "normal" flag. The decoder maps it to the generic smoke-detector payload, so the rules
 * never know the vendor. (Fictional vendor "Acme"; its code table mirrors common NB-IoT smoke units.)
 */
const ACME_CODES: Record<number, string> = {
  1: 'smoke.alarm',
  2: 'smoke.clear',
  3: 'fault',
  4: 'fault.clear',
  5: 'battery.low',
  6: 'tamper',
  7: 'tamper.restore',
  8: 'selftest',
  9: 'silenced',
};

export const acmeSmokeModel = defineModel({
  id: 'acme-nb-smoke-s1',
  type: 'smoke-detector',
  vendor: 'acme',
  name: { zh: 'Acme S1 NB-IoT烟感', en: 'Acme S1 NB-IoT smoke detector' },
  eventSchema: Type.Object({
    eventId: Type.String({ minLength: 1, maxLength: 64 }),
    code: Type.Integer({ minimum: 1, maximum: 9 }),
    // Acme reports `normal: 1` for a passed self-test — inverted from "failed".
    normal: Type.Optional(Type.Union([Type.Literal(0), Type.Literal(1)])),
    density: Type.Optional(Type.Number({ minimum: 0 })),
    ts: Type.Optional(Type.Integer({ minimum: 0 })),
  }),
  telemetrySchema: SmokeTelemetrySchema,
  heartbeatIntervalSeconds: 24 * 3600,
  offlineGraceSeconds: 3600,
  power: 'battery',
  defaultRules: ['smoke-alarm', 'alert-restore', 'device-health', 'presence'],
  // Acme answers a self-test with its code 8 and a silence with code 9 (decoded below).
  commands: ['silence', 'selftest', 'configure'],
  settingsSchema: batterySettings,
  decodeEvent(raw) {
    const type = ACME_CODES[raw.code as number] ?? 'fault';
    const out: Record<string, unknown> = { eventId: raw.eventId, type, ts: raw.ts };
    if (type === 'selftest') out.result = raw.normal === 1 ? 'ok' : 'failed';
    if (type === 'smoke.alarm' && typeof raw.density === 'number') out.smokeDensity = raw.density;
    return out;
  },
});
