import type { OutboundPolicy } from '../outbound/address-policy.ts';
import { guardedRequest } from '../outbound/guarded-post.ts';

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
  return guardedRequest<PlatformAnswer>(policy, rawUrl, headers, body, timeoutMs, (res, resolve, reject) => {
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
  });
}
