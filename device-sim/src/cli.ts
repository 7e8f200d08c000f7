import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Reply } from '../../clients/api.ts';
import { topicFilter } from '../../hub/src/contract/topics.ts';
import { CommunityRun, type RunDevice } from './community-run.ts';
import { HubApi } from './hub-api.ts';
import { INGRESS_KINDS, type IngressKind } from './ingress-link.ts';
import { runLoad } from './load.ts';
import { loadScenario } from './scenario-file.ts';
import { formatReport, runScenario } from './scenario-runner.ts';

const HELP: Record<string, string> = {
  main: `gridhub-sim — the gridhub device simulator

Usage: gridhub-sim <command> [options]

Commands:
  scenario FILE...   play scenario files against a hub and check their expectations
  community          load a community file and register its devices, saving their credentials
  run                connect every device of a credentials file and let the community live
  load               N devices at an aggregate rate; delivered rate and latency percentiles

Common options:
  --hub URL          hub HTTP address (default http://127.0.0.1:8080, or $GRIDHUB_URL)
  --token TOKEN      API token (admin or installer; or $GRIDHUB_TOKEN)
  --help             help for a command: gridhub-sim scenario --help`,
  scenario: `gridhub-sim scenario FILE... [--hub URL] [--token TOKEN] [--mqtt URL] [--speed N]
      [--ingress DEVICE=KIND,...|KIND] [--chirpstack URL]

Plays each scenario (device-sim/scenarios/*.yaml): registers its devices through the API, applies its
policies, plays its timeline over MQTT with the devices' own credentials, and checks every expectation.
Prints a report; exits 0 only if every expectation of every scenario holds.

  --mqtt URL   MQTT address (default mqtt://<hub host>:1883)
  --ingress    play devices through an integration instead of their own MQTT: onenet, ctwing or
               chirpstack, for all devices (--ingress onenet) or some (--ingress smoke-201=ctwing)
  --chirpstack URL   the network server's broker ChirpStack devices publish on (e.g. a Mosquitto)
  --speed N    play the timeline N times faster (default 1)`,
  run: `gridhub-sim run [--credentials FILE] [--speed N] [--seconds S] [--mqtt URL]

Connects every device of a credentials file (from \`gridhub-sim community\`) with its own secret,
birth message and last will, and lets it live: elevators report trips by hour of day, battery devices
heartbeat with draining batteries, water levels rise with rain, and now and then a minor fault or low
battery. --speed 60 makes an hour pass in a minute. Runs until Ctrl-C or --seconds.`,
  load: `gridhub-sim load --credentials FILE [--rate R] [--seconds S] [--mqtt URL] [--token TOKEN]

Connects the devices of a credentials file (from \`gridhub-sim community\`), publishes pre-encoded
events at an aggregate rate R (default 1000/s) for S seconds (default 10), and listens on the hub's
event topic with the staff token to measure the delivered rate and end-to-end latency percentiles.
Against a plain broker: --anonymous N devices and --subscribe 'gh/v1/dev/+/event'.`,
  community: `gridhub-sim community [--file community.yaml] [--devices devices.csv] [--out credentials.json]

Loads the community file (grid tree, people, sites, emergency units; needs an admin token) and
registers the devices of the CSV as an installer would, saving each device's id and secret to --out.
Defaults: hub/examples/community.yaml, hub/examples/devices.csv, data/sim-credentials.json.`,
};

function connection(values: { hub?: string; token?: string }) {
  const hub = values.hub ?? process.env.GRIDHUB_URL ?? 'http://127.0.0.1:8080';
  const token = values.token ?? process.env.GRIDHUB_TOKEN;
  if (!token) throw new Error('an API token is needed: --token or $GRIDHUB_TOKEN');
  return { hub, api: new HubApi(hub, token) };
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === 'help') {
    process.stdout.write(`${HELP.main}\n`);
    return command ? 0 : 2;
  }
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      hub: { type: 'string' },
      token: { type: 'string' },
      mqtt: { type: 'string' },
      speed: { type: 'string' },
      file: { type: 'string' },
      devices: { type: 'string' },
      out: { type: 'string' },
      credentials: { type: 'string' },
      rate: { type: 'string' },
      seconds: { type: 'string' },
      anonymous: { type: 'string' },
      subscribe: { type: 'string' },
      ingress: { type: 'string' },
      chirpstack: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help || !HELP[command]) {
    process.stdout.write(`${HELP[command] ?? HELP.main}\n`);
    return HELP[command] ? 0 : 2;
  }
  if (command === 'run') {
    const hub = values.hub ?? process.env.GRIDHUB_URL ?? 'http://127.0.0.1:8080';
    const file = JSON.parse(readFileSync(values.credentials ?? 'data/sim-credentials.json', 'utf8')) as {
      devices: RunDevice[];
    };
    const community = new CommunityRun({
      mqttUrl: values.mqtt ?? `mqtt://${new URL(hub).hostname}:1883`,
      devices: file.devices,
      speed: Number(values.speed ?? 1),
      log: (line) => process.stdout.write(`${line}\n`),
    });
    await community.start();
    const progress = setInterval(() => {
      const s = community.stats;
      process.stdout.write(
        `\r  ${s.connected} devices, ${s.published} messages, ${s.reconnects} reconnects   `,
      );
    }, 5000);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      if (values.seconds) setTimeout(resolve, Number(values.seconds) * 1000);
    });
    clearInterval(progress);
    await community.stop();
    process.stdout.write(`\n${JSON.stringify(community.stats)}\n`);
    return 0;
  }
  if (command === 'load') {
    const hub = values.hub ?? process.env.GRIDHUB_URL ?? 'http://127.0.0.1:8080';
    const mqttUrl = values.mqtt ?? `mqtt://${new URL(hub).hostname}:1883`;
    const devices = values.anonymous
      ? Array.from({ length: Number(values.anonymous) }, (_, i) => ({ id: `load-${i}` }))
      : (
          JSON.parse(readFileSync(values.credentials ?? 'data/sim-credentials.json', 'utf8')) as {
            devices: { id: string; secret: string }[];
          }
        ).devices;
    const token = values.token ?? process.env.GRIDHUB_TOKEN;
    const result = await runLoad({
      url: mqttUrl,
      devices,
      rate: Number(values.rate ?? 1000),
      seconds: Number(values.seconds ?? 10),
      subscribe: {
        topic: values.subscribe ?? topicFilter('hubEvent'),
        ...(token && !values.anonymous
          ? { options: { username: process.env.GRIDHUB_USER ?? 'admin', password: token } }
          : {}),
      },
      progress: (sent, received) => process.stdout.write(`\r  sent ${sent}  received ${received}   `),
    });
    process.stdout.write(`\n${JSON.stringify(result, null, 2)}\n`);
    return result.lossPct === 0 ? 0 : 1;
  }
  const { hub, api } = connection(values);
  if (command === 'scenario') {
    if (positionals.length === 0) throw new Error('name at least one scenario file');
    const mqttUrl = values.mqtt ?? `mqtt://${new URL(hub).hostname}:1883`;
    let allOk = true;
    for (const file of positionals) {
      const report = await runScenario(loadScenario(file), {
        api,
        mqttUrl,
        speed: values.speed ? Number(values.speed) : 1,
        log: (line) => process.stdout.write(`${line}\n`),
        ingress: parseIngress(values.ingress),
        chirpstackUrl: values.chirpstack,
      });
      process.stdout.write(`${formatReport(report)}\n`);
      allOk &&= report.ok;
    }
    return allOk ? 0 : 1;
  }
  // community
  const file = values.file ?? 'hub/examples/community.yaml';
  const summary = await api.call(
    'POST',
    '/api/v1/grid/import',
    readFileSync(file, 'utf8'),
    file.endsWith('.json') ? 'application/json' : 'application/yaml',
  );
  process.stdout.write(`community loaded: ${JSON.stringify(summary)}\n`);
  const csv = readFileSync(values.devices ?? 'hub/examples/devices.csv', 'utf8');
  const result = await api.call<Reply<'/devices/import', 'post'>>(
    'POST',
    '/api/v1/devices/import',
    csv,
    'text/csv',
  );
  const out = values.out ?? 'data/sim-credentials.json';
  const listed = await api.call<Reply<'/devices/', 'get'>>('GET', '/api/v1/devices?limit=1000');
  const model = new Map(listed.items.map((d) => [d.id, d.model]));
  const devices = result.registered.map((r) => ({ id: r.id, secret: r.secret, model: model.get(r.id) }));
  writeFileSync(out, `${JSON.stringify({ hub, devices }, null, 2)}\n`, { mode: 0o600 });
  process.stdout.write(`${result.registered.length} devices registered; credentials saved to ${out}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`gridhub-sim: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  },
);

/** `--ingress onenet` (every device) or `--ingress a=onenet,b=ctwing`. */
function parseIngress(text: string | undefined): Record<string, IngressKind> | undefined {
  if (!text) return undefined;
  const out: Record<string, IngressKind> = {};
  for (const part of text.split(',')) {
    const [name, kind] = part.includes('=') ? part.split('=') : ['*', part];
    if (!INGRESS_KINDS.includes(kind as IngressKind)) throw new Error(`--ingress: unknown kind '${kind}'`);
    out[name as string] = kind as IngressKind;
  }
  return out;
}
