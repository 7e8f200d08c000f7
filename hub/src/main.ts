import { loadConfig } from './config/load.ts';
import { isGridhubError } from './errors.ts';
import { Hub } from './hub.ts';
import { createLogger } from './logger.ts';

/** Server entry: configuration, one logger, the hub, and graceful shutdown on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const fileArg = args.indexOf('--config');
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig({
      file: fileArg >= 0 ? args[fileArg + 1] : undefined,
      overrides: args.includes('--no-node-red') ? { 'nodeRed.enabled': false } : {},
    });
  } catch (err) {
    process.stderr.write(`gridhub: ${isGridhubError(err) ? err.message : String(err)}\n`);
    process.exit(2);
  }
  const logger = createLogger(config.log.level);
  const hub = new Hub(config, logger);
  await hub.start();

  const { http, mqtt, mqttTls } = hub.addresses;
  const mqttHost = config.mqtt.host === '0.0.0.0' ? '127.0.0.1' : config.mqtt.host;
  const lines = [
    '',
    'gridhub is running',
    `  API and console  ${http}/        (OpenAPI: ${http}/docs)`,
    `  MQTT             mqtt://${mqttHost}:${mqtt}   (WebSocket: ${http.replace('http', 'ws')}${config.mqtt.websocketPath})`,
    ...(mqttTls ? [`  MQTT over TLS    mqtts://${mqttHost}:${mqttTls}`] : []),
    `  data             ${hub.store.location}`,
    config.nodeRed.enabled
      ? `  Node-RED editor  http://${config.nodeRed.host === '0.0.0.0' ? '127.0.0.1' : config.nodeRed.host}:${config.nodeRed.port}/   (sign in as a gridhub admin; --no-node-red to skip)`
      : '  Node-RED         not started (--no-node-red or GRIDHUB_NODE_RED_ENABLED=false)',
  ];
  if (hub.bootstrapToken) {
    lines.push(
      '',
      '  First start: an admin API token was created. It is shown only this once; keep it safe:',
      `    ${hub.bootstrapToken}`,
      `  e.g. curl -H "Authorization: Bearer <token>" ${http}/api/v1/me`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n\n`);

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    hub.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  // A known failure (the store unreachable …) says its code and what to check, without a stack.
  const why = isGridhubError(err)
    ? `${err.code}: ${err.message}`
    : err instanceof Error
      ? (err.stack ?? err.message)
      : String(err);
  process.stderr.write(`gridhub: failed to start: ${why}\n`);
  process.exit(1);
});
