import { createHmac } from 'node:crypto';
import type { WebhookKind } from './alert-schemas.ts';

/** What a webhook request is: where it goes, its headers and its JSON body. */
export interface WebhookRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

export interface AlertMessage {
  /** short title, e.g. 一键报警：东园第一小学 门卫室 */
  title: string;
  /** plain text, lines joined by \n */
  text: string;
  /** the same in markdown (WeCom / DingTalk) */
  markdown: string;
  /** the machine-readable alert for the generic receiver */
  data: unknown;
}

/**
 * Generic receivers verify `X-Gridhub-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`
 * and reject a `X-Gridhub-Timestamp` older than a few minutes, which makes a captured request useless
 * for replay.
 */
export function genericSignature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** DingTalk 加签: base64(HmacSHA256(key = secret, msg = `${ms}\n${secret}`)), URL-encoded, with `timestamp` in ms. */
export function dingtalkSign(secret: string, timestampMs: number): string {
  return encodeURIComponent(
    createHmac('sha256', secret).update(`${timestampMs}\n${secret}`).digest('base64'),
  );
}

/** Feishu 签名校验: base64(HmacSHA256(key = `${seconds}\n${secret}`, msg = empty)), `timestamp` in seconds. */
export function feishuSign(secret: string, timestampS: number): string {
  return createHmac('sha256', `${timestampS}\n${secret}`).update('').digest('base64');
}

/** Build the request for one robot or receiver in its documented format. */
export function webhookRequest(
  kind: WebhookKind,
  url: string,
  secret: string | null,
  message: AlertMessage,
  now = Date.now(),
): WebhookRequest {
  const json = { 'content-type': 'application/json; charset=utf-8' };
  switch (kind) {
    case 'generic': {
      const body = JSON.stringify(message.data);
      const timestamp = String(Math.floor(now / 1000));
      return {
        url,
        headers: {
          ...json,
          'x-gridhub-timestamp': timestamp,
          ...(secret ? { 'x-gridhub-signature': genericSignature(secret, timestamp, body) } : {}),
        },
        body,
      };
    }
    case 'wecom':
      // 企业微信群机器人: markdown content up to 4096 bytes; the key is in the URL.
      return {
        url,
        headers: json,
        body: JSON.stringify({ msgtype: 'markdown', markdown: { content: message.markdown.slice(0, 1300) } }),
      };
    case 'dingtalk': {
      const signed = secret
        ? `${url}${url.includes('?') ? '&' : '?'}timestamp=${now}&sign=${dingtalkSign(secret, now)}`
        : url;
      return {
        url: signed,
        headers: json,
        body: JSON.stringify({
          msgtype: 'markdown',
          markdown: { title: message.title, text: message.markdown },
        }),
      };
    }
    case 'feishu': {
      const seconds = Math.floor(now / 1000);
      const sign = secret ? { timestamp: String(seconds), sign: feishuSign(secret, seconds) } : {};
      return {
        url,
        headers: json,
        body: JSON.stringify({ ...sign, msg_type: 'text', content: { text: message.text } }),
      };
    }
  }
}
