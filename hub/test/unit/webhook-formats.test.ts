import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AckLinks } from '../../src/alerts/ack-links.ts';
import { genericSignature, webhookRequest } from '../../src/alerts/webhook-formats.ts';

const message = {
  title: '【紧急告警】一键报警',
  text: '【紧急告警】一键报警\n地点：门卫室',
  markdown: '### 【紧急告警】一键报警\n> 地点：门卫室',
  data: { a: 1 },
};
const now = 1_795_400_000_123;

describe('robot message formats', () => {
  it('WeCom: markdown message to the key URL', () => {
    const r = webhookRequest('wecom', 'https://qyapi.example/cgi-bin/webhook/send?key=K', null, message, now);
    expect(r.url).toBe('https://qyapi.example/cgi-bin/webhook/send?key=K');
    expect(JSON.parse(r.body)).toEqual({ msgtype: 'markdown', markdown: { content: message.markdown } });
  });

  it('DingTalk: markdown with timestamp and sign in the URL, verified the way DingTalk does', () => {
    const secret = 'SECabc';
    const r = webhookRequest(
      'dingtalk',
      'https://oapi.example/robot/send?access_token=T',
      secret,
      message,
      now,
    );
    const u = new URL(r.url);
    expect(u.searchParams.get('access_token')).toBe('T');
    expect(u.searchParams.get('timestamp')).toBe(String(now));
    const expected = createHmac('sha256', secret).update(`${now}\n${secret}`).digest('base64');
    expect(u.searchParams.get('sign')).toBe(expected);
    expect(JSON.parse(r.body)).toEqual({
      msgtype: 'markdown',
      markdown: { title: message.title, text: message.markdown },
    });
  });

  it('Feishu: text message with timestamp (s) and sign in the body', () => {
    const secret = 'fs-secret';
    const r = webhookRequest('feishu', 'https://open.example/open-apis/bot/v2/hook/H', secret, message, now);
    const body = JSON.parse(r.body) as {
      timestamp: string;
      sign: string;
      msg_type: string;
      content: { text: string };
    };
    const seconds = Math.floor(now / 1000);
    expect(body.timestamp).toBe(String(seconds));
    expect(body.sign).toBe(createHmac('sha256', `${seconds}\n${secret}`).update('').digest('base64'));
    expect(body).toMatchObject({ msg_type: 'text', content: { text: message.text } });
  });

  it('generic: JSON with a timestamped HMAC-SHA256 signature', () => {
    const r = webhookRequest('generic', 'https://receiver.example/hook', 'g-secret', message, now);
    const ts = r.headers['x-gridhub-timestamp'] as string;
    expect(r.headers['x-gridhub-signature']).toBe(
      `sha256=${createHmac('sha256', 'g-secret').update(`${ts}.${r.body}`).digest('hex')}`,
    );
    expect(genericSignature('g-secret', ts, r.body)).toBe(r.headers['x-gridhub-signature']);
    expect(JSON.parse(r.body)).toEqual({ a: 1 });
  });
});

describe('acknowledgement links', () => {
  const links = new AckLinks(
    () => 'k',
    () => 'https://hub.example',
    60_000,
  );
  it('verifies its own link and refuses a tampered or expired one', () => {
    const q = Object.fromEntries(new URL(links.url('A1', 'p-1', 1000)).searchParams);
    expect(links.verify(q, 2000)).toEqual({ alertId: 'A1', who: 'p-1' });
    expect(links.verify({ ...q, who: 'p-2' }, 2000)).toBeUndefined();
    expect(links.verify({ ...q, alert: 'A2' }, 2000)).toBeUndefined();
    expect(links.verify(q, 62_000)).toBeUndefined();
  });
});
