import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { DEVICE_TYPES, WaterLeakEventSchema } from '../../src/contract/payloads.ts';
import { DEVICE_MODELS, ModelCatalogue } from '../../src/devices/models/index.ts';
import { type DeviceModel, defineModel } from '../../src/devices/models/model.ts';
import { rulesByModel } from '../../src/rules/engine.ts';
import { defaultRules } from '../../src/rules/records/index.ts';

const ajv = new Ajv({ strict: false });

describe('device models', () => {
  it('covers every device type, each with compilable schemas and presence timing', () => {
    for (const type of DEVICE_TYPES)
      expect(
        DEVICE_MODELS.some((m) => m.type === type),
        type,
      ).toBe(true);
    for (const m of DEVICE_MODELS) {
      expect(() => ajv.compile(m.eventSchema), m.id).not.toThrow();
      expect(() => ajv.compile(m.telemetrySchema), m.id).not.toThrow();
      expect(m.heartbeatIntervalSeconds).toBeGreaterThan(0);
      expect(m.offlineGraceSeconds).toBeGreaterThan(0);
    }
    expect(new Set(DEVICE_MODELS.map((m) => m.id)).size).toBe(DEVICE_MODELS.length);
  });

  it('validates a generic smoke alarm and refuses one without an eventId', () => {
    const schema = ajv.compile(new ModelCatalogue().get('generic-nb-smoke').eventSchema);
    expect(schema({ eventId: 'e1', type: 'smoke.alarm', smokeDensity: 0.2 })).toBe(true);
    expect(schema({ type: 'smoke.alarm' })).toBe(false);
    expect(schema({ eventId: 'e1', type: 'smoke.party' })).toBe(false);
  });

  it('normalises a vendor’s codes and polarity into the generic payload', () => {
    const acme = new ModelCatalogue().get('acme-nb-smoke-s1');
    expect(acme.decodeEvent?.({ eventId: 'a', code: 1, density: 3 })).toEqual({
      eventId: 'a',
      type: 'smoke.alarm',
      smokeDensity: 3,
      ts: undefined,
    });
    expect(acme.decodeEvent?.({ eventId: 'b', code: 8, normal: 1 })).toMatchObject({
      type: 'selftest',
      result: 'ok',
    });
    expect(acme.decodeEvent?.({ eventId: 'c', code: 8, normal: 0 })).toMatchObject({
      type: 'selftest',
      result: 'failed',
    });
  });

  it('refuses an unknown model with its code', () => {
    expect(() => new ModelCatalogue().get('nope')).toThrow(
      expect.objectContaining({ code: 'GH_ERR_MODEL_UNKNOWN' }),
    );
  });

  it('types a model by its device type: a pass-through smoke model cannot carry the leak schema', () => {
    const smoke = DEVICE_MODELS.find((m) => m.id === 'generic-nb-smoke') as DeviceModel<'smoke-detector'>;
    // @ts-expect-error the water-leak event schema is not the smoke detector's (a compile error)
    const wrong: DeviceModel<'smoke-detector'> = { ...smoke, eventSchema: WaterLeakEventSchema };
    // with a decoder a vendor schema of its own is fine
    const vendor = defineModel({ ...smoke, eventSchema: WaterLeakEventSchema, decodeEvent: (raw) => raw });
    expect(wrong.type).toBe('smoke-detector');
    expect(vendor.decodeEvent?.({ a: 1 })).toEqual({ a: 1 });
  });

  it('names only rules that exist and handle its type; the engine runs those and no others', () => {
    const rules = defaultRules({ maintenanceCheckMs: 1000, outageCheckMs: 1000 });
    const byModel = rulesByModel(rules, DEVICE_MODELS);
    expect(byModel.get('generic-panic-button')?.map((r) => r.name)).toEqual([
      'panic-press',
      'device-health',
      'presence',
    ]);
    expect(byModel.get('gbt24476-elevator')?.map((r) => r.name)).toContain('alert-restore');
    const base = DEVICE_MODELS.find((m) => m.id === 'generic-water-leak') as DeviceModel<'water-leak'>;
    expect(() => rulesByModel(rules, [{ ...base, defaultRules: ['no-such-rule'] }])).toThrow(
      /does not exist/,
    );
    expect(() => rulesByModel(rules, [{ ...base, defaultRules: ['panic-press'] }])).toThrow(
      /does not handle/,
    );
  });
});
