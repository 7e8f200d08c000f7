import type { BlockList } from 'node:net';
import type { IntegrationRow } from '../store/tables.ts';
import type { GateIntegration } from './ingress-gate.ts';
import { allowList } from './integration-checks.ts';
import type { CommandApi, CommandSecrets, ConnectionState, IntegrationKind } from './integration-schemas.ts';
import type { SecretBox } from './secret-box.ts';

export interface ChirpstackSettings {
  url: string;
  applicationId: string;
  username?: string;
  clientId?: string;
}

/** An integration as the push routes and the ChirpStack client use it: secrets decrypted, in memory. */
export interface ActiveIntegration extends GateIntegration {
  name: string;
  enabled: boolean;
  allowIps: string[];
  allowList: BlockList | undefined;
  chirpstack: ChirpstackSettings | null;
  /** the platform's command API (non-secret part) and its secrets, in clear */
  commandApi: CommandApi | null;
  commandSecrets: CommandSecrets;
  /** OneNET token, in clear (needed for MD5 signatures) */
  token: string | null;
  /** CTWing push token, SHA-256 */
  tokenHash: string | null;
  password: string | null;
}

export interface IntegrationListener {
  integrationChanged(id: string, now: ActiveIntegration | undefined): void;
  connection(id: string): ConnectionState | null;
}

/** An integration's row as the push routes and the ChirpStack client use it: secrets opened. */
export function activeIntegration(row: IntegrationRow, box: SecretBox): ActiveIntegration {
  const secrets = row.secrets_enc ? box.open(row.secrets_enc, row.id) : {};
  const settings = JSON.parse(row.settings) as {
    allowIps?: string[];
    chirpstack?: ChirpstackSettings;
    commandApi?: CommandApi;
  };
  const allowIps = settings.allowIps ?? [];
  return {
    id: row.id,
    kind: row.kind as IntegrationKind,
    name: row.name,
    models: new Set(JSON.parse(row.models) as string[]),
    enabled: row.enabled === 1,
    allowIps,
    allowList: allowList(allowIps),
    chirpstack: settings.chirpstack ?? null,
    commandApi: settings.commandApi ?? null,
    commandSecrets: {
      ...(secrets.appSecret ? { appSecret: secrets.appSecret } : {}),
      ...(secrets.masterKey ? { masterKey: secrets.masterKey } : {}),
      ...(secrets.apiKey ? { apiKey: secrets.apiKey } : {}),
    },
    token: secrets.token ?? null,
    tokenHash: row.token_hash,
    password: secrets.password ?? null,
  };
}
