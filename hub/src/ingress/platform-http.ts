import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { type OutboundPolicy, OutboundRefusedError } from '../outbound/address-policy.ts';

/** The most of a platform API's answer the hub reads: its JSON envelope is small. */
const MAX_ANSWER_BYTES = 16 * 1024;

export interface PlatformAnswer {
  status: number;
  /** the answer's JSON object, or undefined when it was not one */
  json: Record<string, unknown> | undefined;
}

/**
 * One POST to a carrier platform's API (CTWing AEP, OneNET) through the outbound policy, like
 * webhooks (hub/src/outbound/guarded-post.ts): the address is judged after DNS on the socket
 * actually opened, redirects are not followed. Unlike a webhook the answer is read — the platform's
 * id of the command is in it — but only up to 16 KiB and only as JSON; the hub keeps the fields it
 * needs, never the body, so an allowed address cannot be read through it.
 */
export function platformPost(
  policy: OutboundPolicy,
  rawUrl: string,
  headers: Record<string, string>,
  body: string | Buffer,
  timeoutMs: number,
): Promise<PlatformAnswer> {
  return new Promise((resolve, reject) => {
    let url: URL;
    try {
      url = new URL(rawUrl);
    } catch {
      return reject(new Error(`not a URL: ${rawUrl}`));
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      return reject(new OutboundRefusedError(`${url.protocol} is not http or https`));
    const host = url.hostname.replace(/^\[|\]$/g, '');
    // net.connect skips `lookup` for a literal address, so those are judged here.
    if (isIP(host) && !policy.hostAllowed(host)) {
      const why = policy.refusal(host);
      if (why) return reject(new OutboundRefusedError(why));
    }
    const request = (url.protocol === 'https:' ? https : http).request(
      {
        protocol: url.protocol,
        hostname: host,
        port: url.port || undefined,
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        lookup: policy.lookup as never,
        agent: false,
        signal: AbortSignal.timeout(timeoutMs),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_ANSWER_BYTES) return res.destroy(new Error('platform answer too large'));
          chunks.push(c);
        });
        res.on('error', reject);
        res.on('end', () => {
          let json: Record<string, unknown> | undefined;
          try {
            const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
              json = parsed as Record<string, unknown>;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
      },
    );
    request.on('error', (err) => {
      const cause = (err as Error & { cause?: unknown }).cause;
      reject(cause instanceof OutboundRefusedError ? cause : err);
    });
    request.end(body);
  });
}
