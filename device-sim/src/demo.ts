/**
 * `npm run demo`: the hub on embedded defaults with the example community living at 60× speed, and
 * scripted incidents in the first minute (a panic press at the school, two smoke detectors in
 * building 1, a trapped passenger). Tickets and alerts are printed as they appear; the console URL,
 * the API and the admin token are printed at start. Ctrl-C stops everything.
 */
import { readFileSync } from 'node:fs';
import type { Reply } from '../../clients/api.ts';
import { BOOTSTRAP_ADMIN_ID } from '../../hub/src/auth/access.ts';
import { loadConfig } from '../../hub/src/config/load.ts';
import { Hub } from '../../hub/src/hub.ts';
import { createLogger } from '../../hub/src/logger.ts';
import { CommunityRun } from './community-run.ts';
import { HubApi } from './hub-api.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

async function main(): Promise<void> {
  const config = loadConfig({
    overrides: {
      dataDir: process.env.GRIDHUB_DATA_DIR ?? 'data/demo',
      'log.level': process.env.GRIDHUB_LOG_LEVEL ?? 'warn',
      // The demo prints its admin token, so it listens on this machine only unless told otherwise
      // (GRIDHUB_HTTP_HOST / GRIDHUB_MQTT_HOST / GRIDHUB_NODE_RED_HOST).
      'http.host': process.env.GRIDHUB_HTTP_HOST || '127.0.0.1',
      'mqtt.host': process.env.GRIDHUB_MQTT_HOST || '127.0.0.1',
      'nodeRed.host': process.env.GRIDHUB_NODE_RED_HOST || '127.0.0.1',
    },
  });
  const hub = new Hub(config, createLogger(config.log.level));
  await hub.start();
  const { http, mqtt } = hub.addresses;
  // A fresh admin token for this run (the previous run's is revoked): nothing fixed to guess, and
  // a token seen on the screen yesterday does not work today.
  const token = await hub.access.rotateToken(BOOTSTRAP_ADMIN_ID, 'demo', 'system');
  const api = new HubApi(http, token);
  const say = (line: string) =>
    process.stdout.write(`${new Date().toLocaleTimeString('zh-CN', { hour12: false })}  ${line}\n`);

  hub.bus.on('ticket.changed', ({ ticket, action }) => {
    if (action === 'created' || action === 'escalate') {
      say(
        `工单 ${action === 'created' ? '新建' : '升级'}  ${ticket.id}  [${ticket.category}] L${ticket.level} ${ticket.severity}  → ${ticket.assigneeId ?? '—'}  ${ticket.title}`,
      );
    }
  });
  hub.bus.on('alert.changed', ({ action, alert }) => {
    if (['raised', 'escalated', 'acknowledged', 'upgraded'].includes(action)) {
      say(
        `告警 ${action.padEnd(12)} ${alert.id}  ${alert.severity}  第 ${alert.step + 1} 人: ${alert.chain[alert.step] ?? '—'}  ${alert.title}`,
      );
    }
  });

  await api.call(
    'POST',
    '/api/v1/grid/import',
    readFileSync(`${ROOT}hub/examples/community.yaml`, 'utf8'),
    'application/yaml',
  );
  // Escalate quickly so the chain is visible within the demo's first minute.
  await api.call('PUT', '/api/v1/policies/alert.stepDelaySeconds', {
    scope: { kind: 'grid', id: 'd-qinghe' },
    value: { critical: 20, major: 30 },
  });
  const existing = await api.call<Reply<'/devices/', 'get'>>('GET', '/api/v1/devices?limit=1000');
  let devices: { id: string; secret: string; model: string }[];
  if (existing.items.some((d) => d.id.startsWith('demo-'))) {
    // A second demo run on the same data: give every demo device a fresh secret.
    devices = [];
    for (const d of existing.items.filter((x) => x.id.startsWith('demo-'))) {
      const r = await api.call<Reply<'/devices/{id}/rotate-secret', 'post'>>(
        'POST',
        `/api/v1/devices/${d.id}/rotate-secret`,
      );
      devices.push({ id: d.id, secret: r.secret, model: d.model });
    }
  } else {
    const rows = [
      ...['site-b1', 'site-b2', 'site-b3'].flatMap((s, b) =>
        [1, 2, 3].map((f) => `demo-smoke-${b + 1}0${f},generic-nb-smoke,${s}`),
      ),
      'demo-lift-1,gbt24476-elevator,site-b1',
      'demo-lift-2,gbt24476-elevator,site-b2',
      'demo-lift-4,gbt24476-elevator,site-b4',
      'demo-level-b4,generic-water-level,site-b4-basement',
      'demo-leak-b4,generic-water-leak,site-b4-basement',
      'demo-button-gate,generic-panic-button,site-school-gate',
      'demo-button-clinic,generic-panic-button,site-clinic',
    ];
    const csv = ['id,model,site', ...rows].join('\n');
    const reg = await api.call<Reply<'/devices/import', 'post'>>(
      'POST',
      '/api/v1/devices/import',
      csv,
      'text/csv',
    );
    devices = reg.registered.map((r) => ({
      ...r,
      model: rows.find((x) => x.startsWith(`${r.id},`))?.split(',')[1] as string,
    }));
  }
  const mqttUrl = `mqtt://127.0.0.1:${mqtt}`;
  const community = new CommunityRun({ mqttUrl, devices, speed: 60 });
  await community.start();

  process.stdout.write(
    [
      '',
      'gridhub demo',
      `  API            ${http}/api/v1   (OpenAPI: ${http}/docs)`,
      `  MQTT           ${mqttUrl}`,
      `  admin token    ${token}   (new for this run; the hub listens on ${config.http.host} only)`,
      `  watch alerts   curl -N -H "Authorization: Bearer ${token}" ${http}/api/v1/alerts/stream`,
      `  tickets        curl -H "Authorization: Bearer ${token}" ${http}/api/v1/tickets`,
      `  ${devices.length} devices live at 60× speed; incidents at 10 s, 20 s and 30 s. Ctrl-C to stop.`,
      '',
    ].join('\n'),
  );

  const incident = (at: number, id: string, event: Record<string, unknown>) =>
    setTimeout(async () => {
      try {
        await community.publishEvent(id, { eventId: `demo-${Date.now()}`, ...event });
        say(`设备 ${id}: ${String(event.type)}${event.code ? ` ${String(event.code)}` : ''}`);
      } catch (err) {
        say(`设备 ${id}: ${(err as Error).message}`);
      }
    }, at * 1000);
  const timers = [
    incident(10, 'demo-button-gate', { type: 'press', kind: 'long' }),
    incident(20, 'demo-smoke-101', { type: 'smoke.alarm', smokeDensity: 0.35 }),
    incident(22, 'demo-smoke-102', { type: 'smoke.alarm', smokeDensity: 0.4 }),
    incident(30, 'demo-lift-2', { type: 'fault', code: '11', floor: 6, occupied: true }),
  ];

  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  for (const t of timers) clearTimeout(t);
  await community.stop();
  await hub.stop();
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
