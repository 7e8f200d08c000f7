import type { LookupAddress, LookupAllOptions, LookupOneOptions } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { GridhubError } from '../errors.ts';

/**
 * Where outbound HTTP (webhooks, chat robots, notify) may go. By default only public addresses:
 * a role that may register a webhook must not make the hub talk to itself, its LAN or a cloud
 * metadata service (issue 14, SSRF). Addresses are judged when a request is made, after DNS, so a
 * name that resolves to a public address at registration and to 127.0.0.1 later (DNS rebinding)
 * gains nothing. The operator's allow-list admits internal relays where a deployment needs them.
 */

const BLOCKED: [string, number, 'ipv4' | 'ipv6', string][] = [
  ['0.0.0.0', 8, 'ipv4', 'unspecified'],
  ['10.0.0.0', 8, 'ipv4', 'private'],
  ['100.64.0.0', 10, 'ipv4', 'CGNAT (also cloud metadata such as 100.100.100.200)'],
  ['127.0.0.0', 8, 'ipv4', 'loopback'],
  ['169.254.0.0', 16, 'ipv4', 'link-local (cloud metadata 169.254.169.254)'],
  ['172.16.0.0', 12, 'ipv4', 'private'],
  ['192.0.0.0', 24, 'ipv4', 'IETF protocol assignments'],
  ['192.0.2.0', 24, 'ipv4', 'documentation'],
  ['192.88.99.0', 24, 'ipv4', '6to4 relay'],
  ['192.168.0.0', 16, 'ipv4', 'private'],
  ['198.18.0.0', 15, 'ipv4', 'benchmarking'],
  ['198.51.100.0', 24, 'ipv4', 'documentation'],
  ['203.0.113.0', 24, 'ipv4', 'documentation'],
  ['224.0.0.0', 4, 'ipv4', 'multicast'],
  ['240.0.0.0', 4, 'ipv4', 'reserved / broadcast'],
  ['::', 128, 'ipv6', 'unspecified'],
  ['::1', 128, 'ipv6', 'loopback'],
  ['64:ff9b:1::', 48, 'ipv6', 'local-use NAT64'],
  ['100::', 64, 'ipv6', 'discard'],
  ['2001::', 32, 'ipv6', 'Teredo'],
  ['2001:db8::', 32, 'ipv6', 'documentation'],
  ['fc00::', 7, 'ipv6', 'unique local (private; AWS metadata fd00:ec2::254)'],
  ['fe80::', 10, 'ipv6', 'link-local'],
  ['fec0::', 10, 'ipv6', 'site-local'],
  ['ff00::', 8, 'ipv6', 'multicast'],
];

/** The eight 16-bit groups of an IPv6 address (with a trailing dotted quad folded in). */
function groups(v6: string): number[] | undefined {
  let text = v6.toLowerCase().split('%')[0] as string;
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = (quad[1] as string).split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, -(quad[1] as string).length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : Array(8 - h.length - t.length).fill('0');
  const all = [...h, ...fill, ...t].map((g) => Number.parseInt(g, 16));
  return all.length === 8 && all.every((n) => Number.isInteger(n) && n >= 0 && n <= 0xffff) ? all : undefined;
}

/** An IPv4 address carried inside an IPv6 one (mapped, compatible, NAT64, 6to4), if any. */
function embeddedV4(v6: string): string | undefined {
  const g = groups(v6);
  if (!g) return undefined;
  const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  const zero = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  if (zero(0, 5) && g[5] === 0xffff) return v4(g[6] as number, g[7] as number); // ::ffff:a.b.c.d
  if (zero(0, 6) && ((g[6] as number) !== 0 || (g[7] as number) > 1))
    return v4(g[6] as number, g[7] as number); // ::a.b.c.d
  if (g[0] === 0x64 && g[1] === 0xff9b && zero(2, 6)) return v4(g[6] as number, g[7] as number); // NAT64
  if (g[0] === 0x2002) return v4(g[1] as number, g[2] as number); // 6to4
  return undefined;
}

export class OutboundRefusedError extends GridhubError {
  constructor(message: string) {
    super('GH_ERR_OUTBOUND_FORBIDDEN', message);
  }
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

export class OutboundPolicy {
  private readonly blocked = new BlockList();
  private readonly reasons: { list: BlockList; reason: string }[] = [];
  private readonly allowed = new BlockList();
  private readonly allowedHosts = new Set<string>();

  /** `allow`: CIDRs, single addresses or host names (config `outbound.allow`). */
  constructor(allow: readonly string[] = []) {
    for (const [net, prefix, type, reason] of BLOCKED) {
      this.blocked.addSubnet(net, prefix, type);
      const one = new BlockList();
      one.addSubnet(net, prefix, type);
      this.reasons.push({ list: one, reason });
    }
    const problems: string[] = [];
    for (const entry of allow) {
      const [addr, bits] = entry.trim().split('/') as [string, string | undefined];
      const family = isIP(addr);
      if (family === 0) {
        if (bits !== undefined || !/^[a-z0-9.-]+$/i.test(addr)) problems.push(entry);
        else this.allowedHosts.add(addr.toLowerCase());
        continue;
      }
      const type = family === 4 ? 'ipv4' : 'ipv6';
      const prefix = bits === undefined ? (family === 4 ? 32 : 128) : Number(bits);
      if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128)) {
        problems.push(entry);
        continue;
      }
      this.allowed.addSubnet(addr, prefix, type);
    }
    if (problems.length > 0)
      throw new GridhubError(
        'GH_ERR_CONFIG_INVALID',
        `outbound.allow: not a CIDR, address or host name: ${problems.join(', ')}`,
      );
  }

  private isAllowed(address: string, type: 'ipv4' | 'ipv6'): boolean {
    return this.allowed.check(address, type);
  }

  /** Why this address may not be reached, or undefined when it may. */
  refusal(address: string): string | undefined {
    const family = isIP(address);
    if (family === 0) return `'${address}' is not an address`;
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (this.isAllowed(address, type)) return undefined;
    if (type === 'ipv6') {
      const v4 = embeddedV4(address);
      if (v4) {
        const inner = this.refusal(v4);
        return inner ? `${address} carries ${v4}: ${inner}` : undefined;
      }
    }
    if (!this.blocked.check(address, type)) return undefined;
    const reason = this.reasons.find((r) => r.list.check(address, type))?.reason ?? 'not public';
    return `${address} is ${reason} and not in outbound.allow`;
  }

  /** Host names the operator allowed as such (e.g. an internal relay) skip the address check. */
  hostAllowed(hostname: string): boolean {
    return this.allowedHosts.has(hostname.toLowerCase());
  }

  /**
   * A `lookup` for node:http/net: resolves every address of the name and refuses the connection if
   * any is not allowed, so the socket can only ever go where the policy says.
   */
  readonly lookup = (
    hostname: string,
    options: LookupOneOptions | LookupAllOptions | number | undefined,
    callback: LookupCallback,
  ): void => {
    const all = typeof options === 'object' && options !== null && options.all === true;
    const family = typeof options === 'object' && options !== null ? (options.family ?? 0) : (options ?? 0);
    dnsLookup(hostname, { all: true, family: family as 0 | 4 | 6 }, (err, addresses) => {
      if (err) return callback(err, all ? [] : '', undefined);
      if (!this.hostAllowed(hostname)) {
        for (const a of addresses) {
          const why = this.refusal(a.address);
          if (why) return callback(new OutboundRefusedError(`${hostname} resolves to ${why}`), '', undefined);
        }
      }
      if (all) return callback(null, addresses);
      const first = addresses[0];
      if (!first)
        return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), '');
      callback(null, first.address, first.family);
    });
  };

  /**
   * Check a target URL when it is registered: http(s) only, no credentials in it, and — as far as
   * can be known now — not aimed at a refused address. A name that does not resolve yet is
   * accepted; the send-time check still applies.
   */
  async checkUrl(raw: string, resolveTimeoutMs = 1500): Promise<void> {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new GridhubError('GH_ERR_VALIDATION', `url: '${raw}' is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new GridhubError('GH_ERR_VALIDATION', 'url: only http and https targets are supported');
    if (url.username || url.password)
      throw new GridhubError('GH_ERR_VALIDATION', 'url: credentials in the URL are not supported');
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (this.hostAllowed(host)) return;
    if (isIP(host)) {
      const why = this.refusal(host);
      if (why) throw new OutboundRefusedError(`url: ${why}`);
      return;
    }
    if (host === 'localhost' || host.endsWith('.localhost'))
      throw new OutboundRefusedError(`url: ${host} is loopback and not in outbound.allow`);
    const addresses = await new Promise<LookupAddress[]>((resolve) => {
      const timer = setTimeout(() => resolve([]), resolveTimeoutMs);
      dnsLookup(host, { all: true }, (err, list) => {
        clearTimeout(timer);
        resolve(err ? [] : list);
      });
    });
    for (const a of addresses) {
      const why = this.refusal(a.address);
      if (why) throw new OutboundRefusedError(`url: ${host} resolves to ${why}`);
    }
  }
}
