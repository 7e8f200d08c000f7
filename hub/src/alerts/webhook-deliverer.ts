import type { Logger } from '../logger.ts';
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
    fetch(req.url, {
      method: 'POST',
      headers: req.headers,
      body: req.body,
      signal: AbortSignal.timeout(this.options.webhookTimeoutMs),
    })
      .then(async (res) => {
        const text = (await res.text().catch(() => '')).slice(0, 200);
        if (res.ok) return record('delivered', `HTTP ${res.status} ${text}`);
        return failed(`HTTP ${res.status} ${text}`, res.status >= 500 || res.status === 429);
      })
      .catch((err: unknown) => failed((err as Error).message, true));
  }

  /** Cancel pending retries (on stop). */
  stop(): void {
    for (const t of this.retries) clearTimeout(t);
    this.retries.clear();
  }
}
