/**
 * Proves the pieces of device commands that need no socket: each model's command schema takes
 * exactly the commands the model declares (and its own settings, nothing else); a device may
 * publish cmd/ack under its own id only and still never its own cmd; an expired command is
 * recognised from its payload; MQTT topic filters match as MQTT 3.1.1 §4.7 says.
 */
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { type ClientIdentity, publishAllowed } from '../../src/broker/acl.ts';
import { modelCommandSchema } from '../../src/commands/command-schemas.ts';
import { commandExpired, commandIdOf } from '../../src/commands/command-wire.ts';
import { filterMatches } from '../../src/contract/topic-filter.ts';
import { commandAckDevice } from '../../src/contract/topics.ts';
import { DEVICE_MODELS, ModelCatalogue } from '../../src/devices/models/index.ts';

const ajv = new Ajv({ strict: false, allErrors: true });
const models = new ModelCatalogue();
const valid = (model: string, body: unknown) => ajv.compile(modelCommandSchema(models.get(model)))(body);

describe('command schemas per model', () => {
  it('takes exactly the commands each model declares', () => {
    for (const m of DEVICE_MODELS) {
      for (const type of ['silence', 'selftest'] as const)
        expect(valid(m.id, { type }), `${m.id} ${type}`).toBe(m.commands.includes(type));
    }
    expect(models.get('generic-nb-smoke').commands).toEqual(['silence', 'selftest', 'configure']);
    expect(models.get('generic-water-leak').commands).toEqual(['configure']);
  });

  it('checks configure settings against the model’s own, refusing unknown keys and bad values', () => {
    expect(valid('generic-nb-smoke', { type: 'configure', settings: { heartbeatMinutes: 720 } })).toBe(true);
    expect(valid('generic-nb-smoke', { type: 'configure', settings: { heartbeatMinutes: 2 } })).toBe(false);
    expect(valid('generic-nb-smoke', { type: 'configure', settings: { heartbeatMinuts: 720 } })).toBe(false);
    expect(valid('generic-nb-smoke', { type: 'configure', settings: {} })).toBe(false);
    expect(valid('gbt24476-elevator', { type: 'configure', settings: { reportSeconds: 5 } })).toBe(true);
    expect(valid('gbt24476-elevator', { type: 'configure', settings: { heartbeatMinutes: 60 } })).toBe(false);
    expect(valid('generic-nb-smoke', { type: 'silence', ttlSeconds: 0 })).toBe(false);
    expect(valid('generic-nb-smoke', { type: 'silence', ttlSeconds: 60, extra: 1 })).toBe(false);
  });
});

describe('cmd/ack topic and ACL', () => {
  const device = (deviceId: string): ClientIdentity => ({
    kind: 'device',
    device: {
      deviceId,
      modelId: 'generic-nb-smoke',
      deviceType: 'smoke-detector',
      siteId: 's',
      gridNodeId: 'g',
      gridPath: '/g/',
      emergencyUnitId: null,
      status: 'active',
      secretHash: '',
    },
  });

  it('lets a device publish cmd/ack under its own id only, and still never its cmd topic', () => {
    expect(commandAckDevice('gh/v1/dev/sd-1/cmd/ack')).toBe('sd-1');
    expect(commandAckDevice('gh/v1/dev/sd-1/cmd')).toBeUndefined();
    expect(commandAckDevice('gh/v1/dev/+/cmd/ack')).toBeUndefined();
    expect(publishAllowed(device('sd-1'), 'gh/v1/dev/sd-1/cmd/ack')).toBe(true);
    expect(publishAllowed(device('sd-1'), 'gh/v1/dev/sd-2/cmd/ack')).toBe(false);
    expect(publishAllowed(device('sd-1'), 'gh/v1/dev/sd-1/cmd')).toBe(false);
    expect(publishAllowed(device('sd-1'), 'gh/v1/dev/sd-1/event')).toBe(true);
  });
});

describe('command payload facts', () => {
  it('reads the command id and whether it expired', () => {
    const p = Buffer.from(JSON.stringify({ commandId: 'C1', type: 'silence', expiresAt: 1000 }));
    expect(commandIdOf(p)).toBe('C1');
    expect(commandExpired(p, 999)).toBe(false);
    expect(commandExpired(p, 1000)).toBe(true);
    expect(commandExpired(Buffer.from('{"commandId":"C2","type":"silence"}'), Date.now())).toBe(false);
    expect(commandExpired(Buffer.from('not json "expiresAt"'), Date.now())).toBe(false);
    expect(commandIdOf(Buffer.from('garbage'))).toBeUndefined();
  });
});

describe('topic filters', () => {
  it('match as MQTT 3.1.1 §4.7 says', () => {
    const t = 'gh/v1/hub/person/p-1/alert';
    for (const f of [t, 'gh/v1/hub/#', '#', 'gh/v1/hub/person/+/alert', 'gh/+/hub/person/p-1/+'])
      expect(filterMatches(f, t), f).toBe(true);
    for (const f of ['gh/v1/hub/person/p-2/alert', 'gh/v1/hub/person/+', 'gh/v1/hub/person/p-1/alert/x'])
      expect(filterMatches(f, t), f).toBe(false);
    expect(filterMatches('a/#', 'a')).toBe(true);
    expect(filterMatches('#', '$SYS/x')).toBe(false);
    expect(filterMatches('+/x', '$SYS/x')).toBe(false);
  });
});
