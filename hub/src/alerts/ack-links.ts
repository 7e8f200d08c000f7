import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Signed, expiring acknowledgement links for messages that leave the hub (chat robots). The link
 * names the alert and the person (or group) it was sent to; opening it shows a confirmation page,
 * and only the POST from that page acknowledges, so chat apps that prefetch links acknowledge nothing.
 */
export class AckLinks {
  constructor(
    private readonly secret: () => string,
    private readonly baseUrl: () => string,
    private readonly ttlMs: number,
  ) {}

  private sig(alertId: string, who: string, exp: number): string {
    return createHmac('sha256', this.secret()).update(`${alertId}\n${who}\n${exp}`).digest('base64url');
  }

  url(alertId: string, who: string, now = Date.now()): string {
    const exp = now + this.ttlMs;
    const q = new URLSearchParams({
      alert: alertId,
      who,
      exp: String(exp),
      sig: this.sig(alertId, who, exp),
    });
    return `${this.baseUrl()}/alerts/ack?${q}`;
  }

  verify(
    q: { alert?: string; who?: string; exp?: string; sig?: string },
    now = Date.now(),
  ): { alertId: string; who: string } | undefined {
    if (!q.alert || !q.who || !q.exp || !q.sig) return undefined;
    const exp = Number(q.exp);
    if (!Number.isFinite(exp) || exp < now) return undefined;
    const expected = Buffer.from(this.sig(q.alert, q.who, exp));
    const given = Buffer.from(q.sig);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
    return { alertId: q.alert, who: q.who };
  }
}
