/**
 * Issue 20's bench row, written as a function for `npm run bench` to call: HTTP push ingest rate and
 * p99 response time (signed OneNET pushes, one event each, `concurrency` in flight like a platform's
 * push workers) against the direct-MQTT QoS 1 event rate in the same run, on the same hub. Not yet
 * wired into bench/run.ts: the bench engineer's branch reworks it and had not landed in this base.
 * Run alone: `npx tsx bench/ingress-push.ts`.
 */
import mqtt from 'mqtt';
import { onenetBody, onenetDataPoint } from '../device-sim/src/platforms.ts';
import { loadExample } from '../hub/test/helpers/community.ts';
import { registerDevice, topic } from '../hub/test/helpers/devices.ts';
import { startTestHub } from '../hub/test/helpers/test-hub.ts';

export interface IngressPushFigures {
  pushesPerSecond: number;
  p99Ms: number;
  mqttEventsPerSecond: number;
  ratio: number;
}

export async function ingressPush(messages = 4000, concurrency = 32): Promise<IngressPushFigures> {
  const t = await startTestHub();
  try {
    await loadExample(t.api);
    const integration = await t.api.post<{ pushUrl: string }>('/api/v1/integrations', {
      kind: 'onenet',
      name: 'bench',
      models: ['generic-nb-smoke'],
      token: 'bench-token-123',
    });
    const devices = 50;
    for (let i = 0; i < devices; i++)
      await registerDevice(t.api, 'generic-nb-smoke', 'site-b1', { platformDeviceId: String(700000 + i) });
    const url = integration.body.pushUrl;
    const times: number[] = [];
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let n = next++; n < messages; n = next++) {
          // telemetry-like events that raise no ticket: the ingest path, not the rules, is measured
          const body = onenetBody(
            'bench-token-123',
            onenetDataPoint(String(700000 + (n % devices)), 'gridhub', {
              eventId: `b-${n}`,
              type: 'selftest',
              result: 'ok',
            }),
          );
          const t0 = performance.now();
          const res = await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body,
          });
          await res.arrayBuffer();
          if (res.status !== 200) throw new Error(`push ${n}: ${res.status}`);
          times.push(performance.now() - t0);
        }
      }),
    );
    const pushesPerSecond = messages / ((performance.now() - started) / 1000);
    times.sort((a, b) => a - b);
    const p99Ms = times[Math.floor(times.length * 0.99)] ?? 0;

    // The baseline: the same number of QoS 1 events over the hub's own MQTT, `concurrency` devices.
    const direct = await Promise.all(
      Array.from({ length: concurrency }, () => registerDevice(t.api, 'generic-nb-smoke', 'site-b1')),
    );
    const clients = await Promise.all(
      direct.map((d) =>
        mqtt.connectAsync(`mqtt://127.0.0.1:${t.hub.broker.port}`, {
          clientId: d.id,
          username: d.id,
          password: d.secret,
        }),
      ),
    );
    const perClient = Math.ceil(messages / concurrency);
    const m0 = performance.now();
    await Promise.all(
      clients.map(async (c, k) => {
        for (let n = 0; n < perClient; n++)
          await c.publishAsync(
            topic(direct[k]?.id as string, 'event'),
            JSON.stringify({ eventId: `m-${n}`, type: 'selftest', result: 'ok' }),
            { qos: 1 },
          );
      }),
    );
    const mqttEventsPerSecond = (perClient * concurrency) / ((performance.now() - m0) / 1000);
    await Promise.all(clients.map((c) => c.endAsync()));
    return { pushesPerSecond, p99Ms, mqttEventsPerSecond, ratio: pushesPerSecond / mqttEventsPerSecond };
  } finally {
    await t.cleanup();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const f = await ingressPush();
  process.stdout.write(
    `ingress: ${f.pushesPerSecond.toFixed(0)} pushes/s (p99 ${f.p99Ms.toFixed(1)} ms) vs MQTT ${f.mqttEventsPerSecond.toFixed(0)} events/s, ratio ${f.ratio.toFixed(2)}\n`,
  );
}
