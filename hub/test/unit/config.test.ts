import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { README, renderReadme } from '../../../scripts/readme-tables.ts';
import { configKeys, loadConfig } from '../../src/config/load.ts';

describe('configuration', () => {
  it('has a description and a default for every key', () => {
    for (const key of configKeys()) {
      expect(key.description, key.path).not.toBe('');
      expect(key.default, key.path).not.toBeUndefined();
    }
  });

  it('derives environment variable names from the schema', () => {
    const names = configKeys().map((k) => [k.path, k.env]);
    expect(names).toContainEqual(['http.port', 'GRIDHUB_HTTP_PORT']);
    expect(names).toContainEqual(['mqtt.maxPayloadBytes', 'GRIDHUB_MQTT_MAX_PAYLOAD_BYTES']);
    expect(names).toContainEqual(['dataDir', 'GRIDHUB_DATA_DIR']);
  });

  it('applies defaults, then file, then environment, then overrides', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gridhub-cfg-'));
    const file = join(dir, 'gridhub.yaml');
    writeFileSync(file, 'http:\n  port: 9000\nmqtt:\n  port: 1999\n');
    const config = loadConfig({
      file,
      env: { GRIDHUB_MQTT_PORT: '2883', GRIDHUB_HTTP_TRUST_PROXY: 'true' },
      overrides: { dataDir: '/x' },
    });
    expect(config.http.port).toBe(9000);
    expect(config.mqtt.port).toBe(2883);
    expect(config.http.trustProxy).toBe(true);
    expect(config.dataDir).toBe('/x');
    expect(config.log.level).toBe('info');
  });

  it('lists every bad value at once as path: message', () => {
    let message = '';
    try {
      loadConfig({
        env: { GRIDHUB_HTTP_PORT: 'abc', GRIDHUB_LOG_LEVEL: 'loud', GRIDHUB_MQTT_RATE_PER_SECOND: '0' },
      });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('http.port: must be integer');
    expect(message).toContain('log.level: must be equal to one of the allowed values');
    expect(message).toContain('mqtt.ratePerSecond: must be > 0');
  });

  it('refuses unknown keys in a config file, so a typo is not silently ignored', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gridhub-cfg-'));
    const file = join(dir, 'gridhub.json');
    writeFileSync(file, JSON.stringify({ http: { prot: 1 } }));
    expect(() => loadConfig({ file, env: {} })).toThrow(/http: must NOT have additional properties 'prot'/);
  });

  it('is documented in the README by the tables derived from the code (npm run docs)', () => {
    const readme = readFileSync(README, 'utf8');
    expect(renderReadme(readme)).toBe(readme);
  });
});
