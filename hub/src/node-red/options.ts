import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Hub } from '../hub.ts';
import { FLOWS_DIR, type NodeRedOptions } from './supervisor.ts';

/** What the Node-RED child needs: its secret (generated once and kept), and a fresh flow token. */
export async function nodeRedOptions(hub: Hub): Promise<NodeRedOptions> {
  const c = hub.config.nodeRed;
  let secret = c.credentialSecret;
  if (!secret) {
    const db = hub.store.db;
    const stored = await db
      .selectFrom('settings')
      .select('value')
      .where('key', '=', 'nodeRed.credentialSecret')
      .executeTakeFirst();
    secret = stored?.value ?? randomBytes(32).toString('base64url');
    if (!stored)
      await db.insertInto('settings').values({ key: 'nodeRed.credentialSecret', value: secret }).execute();
  }
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
