import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { type OutboundPolicy, OutboundRefusedError } from './address-policy.ts';

export interface PostResult {
  status: number;
  /** `HTTP 200 OK`: all the hub keeps of an answer (never the body: issue 14, readable SSRF) */
  statusLine: string;
}

/**
 * POST once to a webhook or robot, through the outbound policy: the address is checked after DNS,
 * on the socket actually opened; redirects are not followed (node:http never does); the response
 * body is not read. Resolves with the status line, rejects on network errors, timeouts and
 * refused addresses (OutboundRefusedError).
 */
export function guardedPost(
  policy: OutboundPolicy,
  rawUrl: string,
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
): Promise<PostResult> {
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
        const status = res.statusCode ?? 0;
        resolve({ status, statusLine: `HTTP ${status} ${res.statusMessage ?? ''}`.trim() });
        res.destroy();
      },
    );
    request.on('error', (err) => {
      const cause = (err as Error & { cause?: unknown }).cause;
      reject(cause instanceof OutboundRefusedError ? cause : err);
    });
    request.end(body);
  });
}
