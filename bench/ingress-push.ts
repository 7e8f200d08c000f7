/**
 * Issue 20's bench row: the HTTP push ingest rate and p99 response time (signed OneNET pushes, one
 * event each, `concurrency` in flight like a platform's push workers) against direct-MQTT QoS 1
 * events with as many in flight (each publish timed to its PUBACK), on the same hub process in the
 * same run. Both answers are the same promise — the event is durably accepted — so the ratio is the
 * cost of the HTTP edge. A section like the others (a HubPool hub in its own process); its rows go
 * under `events`. Every push and every publish is counted: a refusal makes the row say so.
 *
 * Wired into `npm run bench` by one line in bench/run.ts's main(), after the events section:
 *   await section('events', rows, async () => (await import('./ingress-push.ts')).ingressSection(values.quick, hubs, details));
 * Run alone: `npx tsx bench/ingress-push.ts [--quick]`.
 */
import { randomInt } from 'node:crypto';
import mqtt from 'mqtt';
import { onenetBody, onenetDataPoint } from '../device-sim/src/platforms.ts';
import { type HubPool, UNLIMITED } from './hub-process.ts';
import { type Row, ratio } from './results.ts';

export const INGRESS_SIZES = {
  full: { devices: 50, messages: 4_000, concurrency: 32 },
  quick: { devices: 3, messages: 60, concurrency: 4 },
};
type IngressSizes = (typeof INGRESS_SIZES)['full'];

const p99 = (times: number[]) => {
  const sorted = [...times].sort((a, b) => a - b);
  return Math.round((sorted[Math.floor(sorted.length * 0.99)] ?? 0) * 10) / 10;
};

/** Run `total` jobs with `concurrency` in flight; the time of each and the overall rate. */
async function inFlight(
  total: number,
  concurrency: number,
  job: (n: number, worker: number) => Promise<void>,
) {
  const times: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      for (let n = next++; n < total; n = next++) {
        const t0 = performance.now();
        await job(n, worker);
        times.push(performance.now() - t0);
      }
    }),
  );
  return { rate: Math.round(total / ((performance.now() - started) / 1000)), p99: p99(times) };
}

export async function ingressSection(
  quick: boolean,
  hubs: HubPool,
  details: Record<string, string[]>,
  s: IngressSizes = quick ? INGRESS_SIZES.quick : INGRESS_SIZES.full,
): Promise<Row[]> {
  const hub = await hubs.start(UNLIMITED);
  const log = (line: string) => {
    details.ingress ??= [];
    details.ingress.push(line);
  };
  try {
    // a reused hub (quick mode) may already have a community and earlier runs' devices
    await hub.loadCommunity();
    // Decimal, no leading zero: OneNET device ids are numbers, and the simulator sends a numeric id
    // as a JSON number (a hex run such as `4e9210` read as a number is Infinity, sent as null).
    const run = String(randomInt(100_000, 1_000_000));
    const token = `bench-token-${run}`;
    const created = await hub.admin.post<{ pushUrl: string }>('/api/v1/integrations', {
      kind: 'onenet',
      name: `bench ${run}`,
      models: ['generic-nb-smoke'],
      token,
    });
    if (created.status !== 201) throw new Error(`integration: HTTP ${created.status}`);
    const platformId = (i: number) => `${run}${String(i).padStart(4, '0')}`;
    const csv = ['id,model,site,platformDeviceId'];
    for (let i = 0; i < s.devices; i++) csv.push(`nb-${run}-${i},generic-nb-smoke,site-b1,${platformId(i)}`);
    const reg = await hub.admin.post('/api/v1/devices/import', csv.join('\n'), 'text/csv');
    if (reg.status >= 300) throw new Error(`device import: HTTP ${reg.status} ${JSON.stringify(reg.body)}`);

    // Bodies signed before the clock starts: the hub's work is measured, not this process's MD5s.
    // Self-test results: events through the whole ingest path that raise no ticket.
    const bodies = Array.from({ length: s.messages }, (_, n) =>
      onenetBody(
        token,
        onenetDataPoint(platformId(n % s.devices), 'gridhub', {
          eventId: `b-${n}`,
          type: 'selftest',
          result: 'ok',
        }),
      ),
    );
    let accepted = 0;
    const push = await inFlight(s.messages, s.concurrency, async (n) => {
      const res = await fetch(created.body.pushUrl as string, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: bodies[n],
      });
      const answer = (await res.json()) as { accepted?: number };
      if (res.status !== 200) throw new Error(`push ${n}: HTTP ${res.status} ${JSON.stringify(answer)}`);
      accepted += answer.accepted ?? 0;
    });
    log(`HTTP push: ${push.rate} pushes/s, p99 ${push.p99} ms, ${accepted} of ${s.messages} accepted`);

    const direct = await hub.register(s.concurrency, 'generic-nb-smoke', ['site-b1'], `mq-${run}`);
    const clients = await Promise.all(
      direct.map((d) => mqtt.connectAsync(hub.url, { clientId: d.id, username: d.id, password: d.secret })),
    );
    let published = 0;
    const mqttRun = await inFlight(s.messages, s.concurrency, async (n, worker) => {
      const d = direct[worker] as (typeof direct)[number];
      await (clients[worker] as mqtt.MqttClient).publishAsync(
        `gh/v1/dev/${d.id}/event`,
        JSON.stringify({ eventId: `m-${n}`, type: 'selftest', result: 'ok' }),
        { qos: 1 },
      );
      published++;
    });
    await Promise.all(clients.map((c) => c.endAsync()));
    log(`MQTT QoS 1: ${mqttRun.rate} events/s, p99 PUBACK ${mqttRun.p99} ms, ${published} acknowledged`);

    const refusals = await hub.refusals();
    const lost = accepted < s.messages ? `only ${accepted} of ${s.messages} pushes accepted` : '';
    const note = [`${s.concurrency} in flight, ${s.devices} NB-IoT devices`, lost, refusals]
      .filter(Boolean)
      .join('; ');
    return [
      {
        section: 'events',
        figure: 'HTTP push ingest (OneNET, signed, one event a push)',
        value: accepted === s.messages ? push.rate : null,
        unit: 'msg/s',
        baseline: { label: 'direct MQTT QoS 1, as many in flight', value: mqttRun.rate },
        ratio: accepted === s.messages ? ratio(push.rate, mqttRun.rate) : null,
        note,
      },
      {
        section: 'events',
        figure: 'HTTP push response time p99',
        value: push.p99,
        unit: 'ms',
        baseline: { label: 'MQTT PUBACK p99', value: mqttRun.p99 },
        ratio: ratio(push.p99, mqttRun.p99),
        goal: '≤ 100 ms (CTWing ranks receivers by response time)',
        note,
      },
    ];
  } finally {
    await hubs.release(hub);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { HubPool } = await import('./hub-process.ts');
  const quick = process.argv.includes('--quick');
  const hubs = new HubPool(false);
  const details: Record<string, string[]> = {};
  try {
    const rows = await ingressSection(quick, hubs, details);
    for (const line of details.ingress ?? []) process.stdout.write(`${line}\n`);
    for (const r of rows)
      process.stdout.write(
        `${r.figure}: ${r.value ?? '—'} ${r.unit} (${r.baseline?.label}: ${r.baseline?.value ?? '—'}, ratio ${r.ratio ?? '—'})${r.note ? ` — ${r.note}` : ''}\n`,
      );
  } finally {
    await hubs.stopAll();
  }
}
