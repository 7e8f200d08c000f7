/**
 * Proves the other transports: a device connects and publishes over MQTT over WebSocket on the HTTP
 * server's /mqtt path, and, with a test certificate, over MQTT over TLS; both go through the same
 * authentication and ingest as TCP.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceEvent } from '../../src/contract/device-event.ts';
import { loadExample } from '../helpers/community.ts';
import { connectError, registerDevice, topic } from '../helpers/devices.ts';
import { startTestHub, type TestHub, tempDir } from '../helpers/test-hub.ts';
import { waitFor } from '../helpers/wait.ts';

describe('MQTT over WebSocket and TLS', () => {
  let t: TestHub;
  let certFile: string;
  const events: DeviceEvent[] = [];
  beforeAll(async () => {
    const dir = tempDir('gridhub-tls-');
    certFile = join(dir, 'cert.pem');
    const keyFile = join(dir, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout',
        keyFile,
        '-out',
        certFile,
      ],
      { stdio: 'ignore' },
    );
    t = await startTestHub({
      overrides: { 'mqtt.tlsCertFile': certFile, 'mqtt.tlsKeyFile': keyFile, 'mqtt.tlsPort': 0 },
    });
    await loadExample(t.api);
    t.hub.bus.on('device.event', (e) => {
      events.push(e);
    });
  });
  afterAll(async () => t.cleanup());

  it('takes a device over WebSocket', async () => {
    const d = await registerDevice(t.api, 'generic-panic-button', 'site-school-gate');
    const wsUrl = `${t.url.replace('http', 'ws')}/mqtt`;
    expect((await connectError(wsUrl, { username: d.id, password: 'wrong' })).code).toBe(4);
    const c = await mqtt.connectAsync(wsUrl, {
      clientId: d.id,
      username: d.id,
      password: d.secret,
      reconnectPeriod: 0,
    });
    await c.publishAsync(topic(d.id, 'event'), JSON.stringify({ eventId: 'ws-1', type: 'press' }), {
      qos: 1,
    });
    const e = await waitFor(() => events.find((x) => x.deviceId === d.id));
    expect(e.event.eventId).toBe('ws-1');
    await c.endAsync();
  });

  it('takes a device over TLS with the configured certificate', async () => {
    const d = await registerDevice(t.api, 'generic-nb-smoke', 'site-b1');
    const port = t.hub.broker.tlsPort;
    expect(port).toBeGreaterThan(0);
    const c = await mqtt.connectAsync(`mqtts://localhost:${port}`, {
      clientId: d.id,
      username: d.id,
      password: d.secret,
      ca: readFileSync(certFile),
      reconnectPeriod: 0,
    });
    await c.publishAsync(topic(d.id, 'event'), JSON.stringify({ eventId: 'tls-1', type: 'smoke.alarm' }), {
      qos: 1,
    });
    const e = await waitFor(() => events.find((x) => x.deviceId === d.id));
    expect(e.event.eventId).toBe('tls-1');
    await c.endAsync();
    // A client that does not trust the certificate is refused by TLS itself.
    const untrusting = await connectError(`mqtts://localhost:${port}`, {
      username: d.id,
      password: d.secret,
    });
    expect(untrusting.message).toMatch(/certificate/i);
  });
});
