import path from 'node:path';
import type { Hub } from '../hub.ts';
import { storedSecret } from '../store/settings.ts';
import { FLOWS_DIR, type NodeRedOptions } from './supervisor.ts';

/** What the Node-RED child needs: its secret (generated once and kept), and a fresh flow token. */
export async function nodeRedOptions(hub: Hub): Promise<NodeRedOptions> {
  const c = hub.config.nodeRed;
  const secret = await storedSecret(hub.store.db, 'nodeRed.credentialSecret', c.credentialSecret);
  let flowToken = '';
  if (c.flowUser) {
    try {
      flowToken = await hub.access.rotateToken(c.flowUser, 'node-red', 'system');
    } catch (err) {
      hub.logger.error(
        { err, flowUser: c.flowUser },
        'no token for the Node-RED flow user; flows run without credentials',
      );
    }
  }
  const mqttHost = hub.config.mqtt.host === '0.0.0.0' ? '127.0.0.1' : hub.config.mqtt.host;
  return {
    host: c.host,
    port: c.port,
    userDir: path.join(hub.config.dataDir, 'node-red'),
    flowFile: c.flowFile || path.join(FLOWS_DIR, 'flows.json'),
    credentialSecret: secret,
    hubUrl: hub.addresses.http,
    publicUrl: hub.publicUrl(),
    mqttUrl: `mqtt://${mqttHost}:${hub.broker.port}`,
    flowUser: flowToken ? c.flowUser : '',
    flowToken,
    streetDutyReadOnly: c.streetDutyReadOnly,
    restartDelayMs: c.restartDelayMs,
  };
}
