import { randomBytes } from 'node:crypto';
import { Ajv, type ValidateFunction } from 'ajv';
import mqtt, { type MqttClient } from 'mqtt';
import type { Reply } from '../../clients/api.ts';
import { topicFor } from '../../hub/src/contract/topics.ts';
import { answerCommands } from './command-responder.ts';
import type { HubApi } from './hub-api.ts';
import { type IngressKind, IngressLinks, type PlatformLink } from './ingress-link.ts';
import type { Expectation, Scenario } from './scenario-schema.ts';

export interface ExpectationResult {
  expectation: string;
  ok: boolean;
  detail: string;
  seconds: number;
}

export interface ScenarioReport {
  name: string;
  ok: boolean;
  results: ExpectationResult[];
  seconds: number;
}

export interface RunOptions {
  api: HubApi;
  mqttUrl: string;
  /** timeline speed-up: 2 plays the timeline twice as fast */
  speed?: number;
  log?: (line: string) => void;
  /** devices played through an integration: by device name, or '*' for all (overrides the file) */
  ingress?: Record<string, IngressKind>;
  /** the ChirpStack network server's broker, for devices on `chirpstack` */
  chirpstackUrl?: string;
}

interface SimDevice {
  name: string;
  id: string;
  secret: string;
  model: string;
  site: string;
  client?: MqttClient;
  /** set when the device reaches the hub through a platform instead of its own MQTT */
  link?: PlatformLink;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

function describe(e: Expectation): string {
  const { within: _, ...rest } = e;
  return JSON.stringify(rest);
}

/**
 * Plays a scenario against a running hub through its public API and MQTT: registers the devices as an
 * installer would, shortens the named policies, plays the timeline with the devices' own credentials,
 * then checks every expectation (each within its own time limit) and reports which held.
 */
export async function runScenario(scenario: Scenario, options: RunOptions): Promise<ScenarioReport> {
  const { api, mqttUrl } = options;
  const speed = options.speed ?? 1;
  const log = options.log ?? (() => undefined);
  const run = randomBytes(3).toString('hex');
  const started = Date.now();

  // Device payloads are validated with the hub's own schemas, fetched from the hub.
  const ajv = new Ajv({ strict: false, useDefaults: true });
  const models = new Map(
    (await api.call<Reply<'/device-models/', 'get'>>('GET', '/api/v1/device-models')).map((m) => [m.id, m]),
  );
  const validators = new Map<string, { event: ValidateFunction; telemetry: ValidateFunction }>();
  const validator = (model: string) => {
    let v = validators.get(model);
    if (!v) {
      const m = models.get(model);
      if (!m) throw new Error(`scenario: unknown model '${model}'`);
      // served as JSON Schema (the OpenAPI document types them as unknown)
      v = {
        event: ajv.compile(m.eventSchema as object),
        telemetry: ajv.compile(m.telemetrySchema as object),
      };
      validators.set(model, v);
    }
    return v;
  };

  const restore: { key: string; kind: string; id: string }[] = [];
  for (const p of scenario.policies ?? []) {
    await api.call('PUT', `/api/v1/policies/${p.key}`, { scope: p.scope, value: p.value });
    restore.push({ key: p.key, kind: p.scope.kind, id: p.scope.id });
  }

  const devices = new Map<string, SimDevice>();
  const links = new IngressLinks(
    api,
    run,
    [...new Set(Object.values(scenario.devices).map((d) => d.model))],
    options.chirpstackUrl,
  );
  for (const [name, d] of Object.entries(scenario.devices)) {
    const kind = options.ingress?.[name] ?? options.ingress?.['*'] ?? d.ingress ?? 'mqtt';
    const link = kind === 'mqtt' ? undefined : await links.link(kind);
    const reg = await api.call<Reply<'/devices/', 'post'>>('POST', '/api/v1/devices', {
      model: d.model,
      site: d.site,
      name: `${scenario.name} / ${name}`,
      ...link?.identity,
    });
    devices.set(name, { name, id: reg.device.id, secret: reg.secret, model: d.model, site: d.site, link });
    if (link) log(`  ${name}: through ${kind} (${JSON.stringify(link.identity)})`);
  }
  const device = (name: string) => {
    const d = devices.get(name);
    if (!d) throw new Error(`scenario: no device '${name}'`);
    return d;
  };
  let answers = 0;
  const connect = async (d: SimDevice) => {
    if (d.client) return d.client;
    // A persistent session under its own id, as NB-IoT firmware keeps: commands wait for it.
    d.client = await mqtt.connectAsync(mqttUrl, {
      clientId: d.id,
      username: d.id,
      password: d.secret,
      clean: false,
      reconnectPeriod: 0,
      will: {
        topic: topicFor('status', { deviceId: d.id }),
        payload: Buffer.from('{"state":"offline"}'),
        qos: 1,
        retain: true,
      },
    });
    await answerCommands(d.client, d, () => `${run}-answer-${++answers}`, log);
    return d.client;
  };

  try {
    const steps = [...scenario.timeline].sort((a, b) => a.at - b.at);
    for (const [i, step] of steps.entries()) {
      await sleep(started + (step.at * 1000) / speed - Date.now());
      if ('offline' in step) {
        for (const name of step.devices) {
          const d = device(name);
          await connect(d);
          d.client?.stream.destroy();
          log(`  t=${step.at}s ${name}: socket dropped`);
        }
        continue;
      }
      const d = device(step.device);
      if (d.link && ('event' in step || 'telemetry' in step)) {
        const kind = 'event' in step ? 'event' : 'telemetry';
        const payload = 'event' in step ? { eventId: `${run}-${i}`, ...step.event } : step.telemetry;
        await d.link.send(kind, payload);
        log(`  t=${step.at}s ${step.device}: ${kind} through its platform`);
        continue;
      }
      const client = await connect(d);
      if ('event' in step) {
        const payload = { eventId: `${run}-${i}`, ...step.event };
        if (!validator(d.model).event(payload))
          throw new Error(
            `scenario step ${i}: event does not match ${d.model}: ${ajv.errorsText(validator(d.model).event.errors)}`,
          );
        await client.publishAsync(topicFor('event', { deviceId: d.id }), JSON.stringify(payload), { qos: 1 });
        log(`  t=${step.at}s ${step.device}: event ${String(step.event.type)}`);
      } else if ('telemetry' in step) {
        if (!validator(d.model).telemetry(step.telemetry))
          throw new Error(
            `scenario step ${i}: telemetry does not match ${d.model}: ${ajv.errorsText(validator(d.model).telemetry.errors)}`,
          );
        await client.publishAsync(topicFor('telemetry', { deviceId: d.id }), JSON.stringify(step.telemetry), {
          qos: 1,
        });
        log(`  t=${step.at}s ${step.device}: telemetry`);
      } else if ('command' in step) {
        await api.call('POST', `/api/v1/devices/${encodeURIComponent(d.id)}/commands`, step.command);
        log(`  t=${step.at}s ${step.device}: command ${String(step.command.type)}`);
      } else if ('garbage' in step) {
        for (let k = 0; k < step.garbage; k++)
          client.publish(topicFor('event', { deviceId: d.id }), `garbage ${k} \u0000\u00ff`, { qos: 0 });
        log(`  t=${step.at}s ${step.device}: ${step.garbage} garbage messages`);
      }
    }
    const timelineEnd = Date.now();
    const ids = new Set([...devices.values()].map((d) => d.id));
    const sites = new Set([...devices.values()].map((d) => d.site));
    const results = await Promise.all(scenario.expect.map((e) => check(e, timelineEnd)));
    const ok = results.every((r) => r.ok);
    return { name: scenario.name, ok, results, seconds: (Date.now() - started) / 1000 };

    async function check(e: Expectation, from: number): Promise<ExpectationResult> {
      const deadline = from + e.within * 1000;
      let detail = '';
      const done = (ok: boolean) => ({
        expectation: describe(e),
        ok,
        detail,
        seconds: Math.round((Date.now() - from) / 100) / 10,
      });
      if ('noTicket' in e) await sleep(deadline - Date.now());
      for (;;) {
        try {
          if ('ticket' in e || 'noTicket' in e) {
            const want = 'ticket' in e ? e.ticket : e.noTicket;
            const list = (
              await api.call<Reply<'/tickets', 'get'>>(
                'GET',
                `/api/v1/tickets?category=${want.category}&limit=500`,
              )
            ).items.filter((t) =>
              'ticket' in e && e.ticket.device
                ? t.deviceId === device(e.ticket.device).id
                : (want.site ? t.siteId === want.site : true) &&
                  (t.deviceId === null ? sites.has(t.siteId ?? '') : ids.has(t.deviceId)),
            );
            if ('noTicket' in e) {
              detail = list.length === 0 ? 'none' : `found ${list.map((t) => t.id).join(', ')}`;
              return done(list.length === 0);
            }
            const match = list.filter(
              (t) =>
                (e.ticket.levelAtLeast ? t.level >= e.ticket.levelAtLeast : true) &&
                (e.ticket.severity ? t.severity === e.ticket.severity : true),
            );
            detail = `${list.length} ticket(s)${list.length ? ` at level ${list.map((t) => t.level).join('/')}, ${list.map((t) => t.severity).join('/')}` : ''}`;
            if (
              e.ticket.count !== undefined
                ? match.length === e.ticket.count && list.length === e.ticket.count
                : match.length > 0
            )
              return done(true);
          } else if ('alert' in e) {
            const list = (
              await api.call<Reply<'/alerts', 'get'>>('GET', '/api/v1/alerts?limit=500')
            ).items.filter((a) => a.deviceId && ids.has(a.deviceId));
            const match = list.filter(
              (a) =>
                (e.alert.unit ? a.emergencyUnitId === e.alert.unit : true) &&
                (e.alert.cause ? a.cause === e.alert.cause : true) &&
                (e.alert.state ? a.state === e.alert.state : true) &&
                (e.alert.stepAtLeast !== undefined ? a.step >= e.alert.stepAtLeast : true),
            );
            detail = `${list.length} alert(s)${list.length ? `: ${list.map((a) => `${a.cause} ${a.state} step ${a.step}`).join('; ')}` : ''}`;
            if (match.length > 0) return done(true);
          } else if ('rejected' in e) {
            const view = await api.call<Reply<'/devices/{id}/commissioning', 'get'>>(
              'GET',
              `/api/v1/devices/${device(e.rejected.device).id}/commissioning`,
            );
            const n = view.rejected.filter((r) => r.code === e.rejected.code).length;
            detail = `${n} × ${e.rejected.code} in the commissioning view`;
            if (n >= e.rejected.atLeast) return done(true);
          } else if ('command' in e) {
            const list = await api.call<Reply<'/devices/{id}/commands', 'get'>>(
              'GET',
              `/api/v1/devices/${encodeURIComponent(device(e.command.device).id)}/commands`,
            );
            const mine = list.filter((c) => c.type === e.command.type);
            detail = `${mine.length} ${e.command.type} command(s)${mine.length ? `: ${mine.map((c) => c.state).join(', ')}` : ''}`;
            if (mine.some((c) => c.state === e.command.state)) return done(true);
          } else if ('hubReady' in e) {
            const res = await fetch(`${api.baseUrl}/ready`);
            detail = `GET /ready → ${res.status}`;
            if (res.ok) return done(true);
          }
        } catch (err) {
          detail = (err as Error).message;
        }
        if (Date.now() >= deadline) return done(false);
        await sleep(100);
      }
    }
  } finally {
    for (const d of devices.values()) d.client?.end(true);
    await links.close();
    for (const p of restore)
      await api
        .call('DELETE', `/api/v1/policies/${p.key}?kind=${p.kind}&id=${encodeURIComponent(p.id)}`)
        .catch(() => undefined);
  }
}

/** A readable report: one line per expectation, ✓ or ✗, with what was found. */
export function formatReport(r: ScenarioReport): string {
  return [
    `${r.ok ? '✓' : '✗'} ${r.name} (${r.seconds.toFixed(1)} s)`,
    ...r.results.map((x) => `    ${x.ok ? '✓' : '✗'} ${x.expectation} — ${x.detail} (${x.seconds} s)`),
  ].join('\n');
}
