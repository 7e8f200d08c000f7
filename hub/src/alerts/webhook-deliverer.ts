import type { Logger } from '../logger.ts';
import { type OutboundPolicy, OutboundRefusedError } from '../outbound/address-policy.ts';
import { guardedPost } from '../outbound/guarded-post.ts';
import type { WebhookKind } from './alert-schemas.ts';
import { type AlertMessage, webhookRequest } from './webhook-formats.ts';

export type DeliveryResult = 'queued' | 'delivered' | 'failed' | 'retrying' | 'suppressed';

export interface DelivererOptions {
  webhookTimeoutMs: number;
  webhookRetries: number;
  webhookRetryBaseMs: number;
}

export interface WebhookTarget {
  id: string;
  kind: string;
  url: string;
  secret: string | null;
}

/** Records one attempt (the caller's delivery log); a failure to record is logged, never thrown. */
export type AttemptLog = (attempt: number, result: DeliveryResult, detail: string) => Promise<void>;

/**
 * The one place webhook and chat-robot messages leave the hub: format per target kind, POST with a
 * timeout, and retry with exponential back-off on network errors, 429 and 5xx. Alerts and flow
 * notifications both send through it, so retries and the per-attempt log behave the same.
 */
export class WebhookDeliverer {
  private readonly retries = new Set<NodeJS.Timeout>();

  constructor(
    private readonly options: DelivererOptions,
    private readonly logger: Logger,
    /** where messages may go (issue 14: no loopback, private or metadata addresses unless allowed) */
    private readonly outbound: OutboundPolicy,
    private readonly now: () => number = Date.now,
  ) {}

  send(target: WebhookTarget, message: AlertMessage, log: AttemptLog, attempt = 1): void {
    const req = webhookRequest(target.kind as WebhookKind, target.url, target.secret, message, this.now());
    const record = (result: DeliveryResult, detail: string) =>
      log(attempt, result, detail).catch((err: unknown) => this.logger.error({ err }, 'delivery log failed'));
    const failed = async (detail: string, retryable: boolean) => {
      const again = retryable && attempt < this.options.webhookRetries;
      await record(again ? 'retrying' : 'failed', detail);
      this.logger.warn({ target: target.id, attempt, detail, retry: again }, 'webhook delivery failed');
      if (!again) return;
      const timer = setTimeout(
        () => {
          this.retries.delete(timer);
          this.send(target, message, log, attempt + 1);
        },
        this.options.webhookRetryBaseMs * 2 ** (attempt - 1),
      );
      this.retries.add(timer);
    };
    // Only the status line is kept: a response body in a readable log would turn any target into
    // a way to read internal services. A redirect is not followed (it could point anywhere).
    guardedPost(this.outbound, req.url, req.headers, req.body, this.options.webhookTimeoutMs)
      .then(({ status, statusLine }) => {
        if (status >= 200 && status < 300) return record('delivered', statusLine);
        if (status >= 300 && status < 400) return failed(`${statusLine} (redirects are not followed)`, false);
        return failed(statusLine, status >= 500 || status === 429);
      })
      .catch((err: unknown) =>
        err instanceof OutboundRefusedError
          ? failed(`${err.code}: ${err.message}`, false)
          : failed((err as Error).message, true),
      );
  }

  /** Cancel pending retries (on stop). */
  stop(): void {
    for (const t of this.retries) clearTimeout(t);
    this.retries.clear();
  }
}
