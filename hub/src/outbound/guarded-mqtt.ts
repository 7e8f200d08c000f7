import net from 'node:net';
import tls from 'node:tls';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { type OutboundPolicy, OutboundRefusedError } from './address-policy.ts';

/** An mqtt:// or mqtts:// URL as the outbound policy checks it (its host and port are what count). */
export function mqttUrlAsHttp(url: string): string {
  return url.replace(/^mqtt:/, 'http:').replace(/^mqtts:/, 'https:');
}

/**
 * An MQTT client to a broker the operator named (a ChirpStack network server), whose every socket —
 * the first and each reconnect — goes through the outbound policy: names are resolved by the
 * policy's lookup (so a name that rebinds to 127.0.0.1 later gains nothing), literal addresses are
 * judged before connecting. mqtt.js's own TCP transport takes no `lookup`, hence the stream builder.
 */
export function guardedMqttClient(
  policy: OutboundPolicy,
  rawUrl: string,
  options: IClientOptions,
): MqttClient {
  const url = new URL(rawUrl);
  const secure = url.protocol === 'mqtts:';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port) || (secure ? 8883 : 1883);
  const build = () => {
    if (net.isIP(host) && !policy.hostAllowed(host)) {
      const why = policy.refusal(host);
      if (why) {
        // The client reports the error and tries again later; the socket never opens.
        const refused = new net.Socket();
        process.nextTick(() => refused.destroy(new OutboundRefusedError(why)));
        return refused;
      }
    }
    const lookup = policy.lookup as never;
    return secure
      ? tls.connect({ host, port, lookup, ...(net.isIP(host) ? {} : { servername: host }) })
      : net.connect({ host, port, lookup });
  };
  return new mqtt.MqttClient(build, { ...options, protocol: secure ? 'mqtts' : 'mqtt' });
}
