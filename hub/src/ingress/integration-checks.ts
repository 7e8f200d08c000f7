import { BlockList, isIP } from 'node:net';
import { GridhubError } from '../errors.ts';
import type { ActiveIntegration } from './integration-service.ts';

/** Source allow-lists of push integrations (addresses or CIDRs). */
export function allowList(ips: string[]): BlockList | undefined {
  if (ips.length === 0) return undefined;
  const list = new BlockList();
  for (const entry of ips) {
    const [addr, bits] = entry.split('/') as [string, string | undefined];
    const family = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr, family);
    else list.addSubnet(addr, Number(bits), family);
  }
  return list;
}

export function checkIps(ips: string[]): void {
  for (const entry of ips) {
    const [addr, bits] = entry.split('/') as [string, string | undefined];
    const v = isIP(addr);
    const max = v === 6 ? 128 : 32;
    if (v === 0 || (bits !== undefined && !(Number(bits) >= 0 && Number(bits) <= max)))
      throw new GridhubError('GH_ERR_VALIDATION', `allowIps: '${entry}' is not an address or CIDR`);
  }
}

/** Whether the hub can send commands through this integration. */
export function commandsReady(a: Pick<ActiveIntegration, 'kind' | 'commandApi' | 'commandSecrets'>): boolean {
  if (a.kind === 'chirpstack') return true;
  const s = a.commandSecrets;
  if (a.kind === 'onenet') return Boolean(s.apiKey);
  return Boolean(a.commandApi?.appKey && a.commandApi.productId && s.appSecret && s.masterKey);
}
