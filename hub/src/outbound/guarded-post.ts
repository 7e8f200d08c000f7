import type { IncomingMessage } from 'node:http';
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
 * One POST through the outbound policy — the one place outbound HTTP is made: the address is
 * checked after DNS, on the socket actually opened (a literal address here, as net.connect skips
 * `lookup` for one); redirects are not followed (node:http never does). `answer` decides what of
 * the response is read; it rejects on network errors, timeouts and refused addresses
 * (OutboundRefusedError).
 */
export function guardedRequest<T>(
  policy: OutboundPolicy,
  rawUrl: string,
  headers: Record<string, string>,
  body: string | Buffer,
  timeoutMs: number,
  answer: (res: IncomingMessage, resolve: (v: T) => void, reject: (err: unknown) => void) => void,
): Promise<T> {
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
      (res) => answer(res, resolve, reject),
    );
    request.on('error', (err) => {
      const cause = (err as Error & { cause?: unknown }).cause;
      reject(cause instanceof OutboundRefusedError ? cause : err);
    });
    request.end(body);
  });
}

/** POST once to a webhook or robot; the response body is not read, only its status line kept. */
export function guardedPost(
  policy: OutboundPolicy,
  rawUrl: string,
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
): Promise<PostResult> {
  return guardedRequest<PostResult>(policy, rawUrl, headers, body, timeoutMs, (res, resolve) => {
    const status = res.statusCode ?? 0;
    resolve({ status, statusLine: `HTTP ${status} ${res.statusMessage ?? ''}`.trim() });
    res.destroy();
  });
}
