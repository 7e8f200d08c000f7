import { randomBytes } from 'node:crypto';
import type { Logger } from '../logger.ts';
import { type OutboundPolicy, OutboundRefusedError } from '../outbound/address-policy.ts';
import { guardedPost } from '../outbound/guarded-post.ts';
import type { WebhookKind } from './alert-schemas.ts';
import { type AlertMessage, webhookRequest } from './webhook-formats.ts';
import type { DeliveryOrigin, OutboxJob, WebhookOutbox } from './webhook-outbox.ts';

export type { DeliveryOrigin } from './webhook-outbox.ts';

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

/** Records one attempt in the delivery log of its origin; a failure to record is logged, never thrown. */
export type OriginLog = (
  origin: DeliveryOrigin,
  target: WebhookTarget,
  attempt: number,
  result: DeliveryResult,
  detail: string,
) => Promise<void>;

/** How often a node looks for due deliveries (retries, and those a dead node left behind). */
const POLL_MS = 1000;
const CLAIM_BATCH = 20;

type Job = OutboxJob & { target: WebhookTarget; stored: boolean };

/**
 * The one place webhook and chat-robot messages leave the hub: format per target kind, POST with a
 * timeout through the outbound policy, and retry with exponential back-off on network errors, 429
 * and 5xx. Alerts and flow notifications both send through it. A delivery is a row of the store's
 * outbox (alerts/webhook-outbox.ts) until it is delivered or given up: retries are claimed by
 * whichever node polls first, and a delivery whose node died is taken over once its lease ran out
 * (the attempt's timeout plus a margin). When the store refuses the row (a full disk) the
 * delivery is still made, with its retries held in memory as before.
 */
export class WebhookDeliverer {
  private readonly retries = new Set<NodeJS.Timeout>();
  private readonly logs = new Map<DeliveryOrigin['kind'], OriginLog>();
  private poller: NodeJS.Timeout | undefined;
  private polling = false;
  /** when a failed poll was last logged: a store that refuses (a full disk) is logged once a minute */
  private pollFailLogged = 0;

  constructor(
    private readonly options: DelivererOptions,
    private readonly logger: Logger,
    /** where messages may go (issue 14: no loopback, private or metadata addresses unless allowed) */
    private readonly outbound: OutboundPolicy,
    private readonly outbox: WebhookOutbox | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /** A lease outlives one attempt (connect + answer within the timeout) with room to spare. */
  private get leaseMs(): number {
    return this.options.webhookTimeoutMs * 2 + 5000;
  }

  /** Where attempts of one kind of origin are logged (alerts, notifications). */
  logTo(kind: DeliveryOrigin['kind'], log: OriginLog): void {
    this.logs.set(kind, log);
  }

  send(target: WebhookTarget, message: AlertMessage, origin: DeliveryOrigin): void {
    const job: Job = {
      id: `wh-${randomBytes(8).toString('hex')}`,
      targetId: target.id,
      message,
      origin,
      attempts: 0,
      target,
      stored: false,
    };
    const queued = this.outbox
      ? this.outbox.add(job, this.now(), this.leaseMs).then(
          () => {
            job.stored = true;
          },
          (err: unknown) =>
            this.logger.warn({ err, target: target.id }, 'webhook outbox refused; sending from memory'),
        )
      : Promise.resolve();
    void queued.then(() => this.attempt(job));
  }

  private record(job: Job, attempt: number, result: DeliveryResult, detail: string): Promise<void> {
    const log = this.logs.get(job.origin.kind);
    if (!log) return Promise.resolve();
    return log(job.origin, job.target, attempt, result, detail).catch((err: unknown) =>
      this.logger.error({ err }, 'delivery log failed'),
    );
  }

  private attempt(job: Job): void {
    const attempt = job.attempts + 1;
    const { target } = job;
    const req = webhookRequest(
      target.kind as WebhookKind,
      target.url,
      target.secret,
      job.message,
      this.now(),
    );
    const failed = async (detail: string, retryable: boolean) => {
      const again = retryable && attempt < this.options.webhookRetries;
      const delay = this.options.webhookRetryBaseMs * 2 ** (attempt - 1);
      if (job.stored) {
        await (again
          ? this.outbox?.retryAt(job.id, attempt, this.now() + delay)
          : this.outbox?.finish(job.id)
        )?.catch((err: unknown) => this.logger.error({ err, job: job.id }, 'webhook outbox not updated'));
      }
      await this.record(job, attempt, again ? 'retrying' : 'failed', detail);
      this.logger.warn({ target: target.id, attempt, detail, retry: again }, 'webhook delivery failed');
      if (!again || job.stored) return;
      const timer = setTimeout(() => {
        this.retries.delete(timer);
        this.attempt({ ...job, attempts: attempt });
      }, delay);
      this.retries.add(timer);
    };
    // Only the status line is kept: a response body in a readable log would turn any target into
    // a way to read internal services. A redirect is not followed (it could point anywhere).
    guardedPost(this.outbound, req.url, req.headers, req.body, this.options.webhookTimeoutMs)
      .then(async ({ status, statusLine }) => {
        if (status >= 200 && status < 300) {
          // Out of the outbox first: a node dying between the two leaves a log line missing,
          // not a second message to the group.
          if (job.stored)
            await this.outbox
              ?.finish(job.id)
              .catch((err: unknown) => this.logger.error({ err, job: job.id }, 'webhook outbox not updated'));
          return this.record(job, attempt, 'delivered', statusLine);
        }
        if (status >= 300 && status < 400) return failed(`${statusLine} (redirects are not followed)`, false);
        return failed(statusLine, status >= 500 || status === 429);
      })
      .catch((err: unknown) =>
        err instanceof OutboundRefusedError
          ? failed(`${err.code}: ${err.message}`, false)
          : failed((err as Error).message, true),
      );
  }

  /** Due retries and deliveries a dead node left: claimed with a lease, then attempted here. */
  private async poll(): Promise<void> {
    if (!this.outbox || this.polling) return;
    this.polling = true;
    try {
      for (const job of await this.outbox.claimDue(this.now(), this.leaseMs, CLAIM_BATCH)) {
        const target = await this.outbox.target(job.targetId);
        if (!target) {
          await this.outbox.finish(job.id);
          this.logger.warn({ job: job.id, target: job.targetId }, 'webhook target removed; delivery dropped');
          continue;
        }
        this.attempt({ ...job, target, stored: true });
      }
    } catch (err) {
      if (Date.now() - this.pollFailLogged > 60_000) {
        this.pollFailLogged = Date.now();
        this.logger.warn({ err }, 'webhook outbox poll failed');
      }
    } finally {
      this.polling = false;
    }
  }

  start(): void {
    if (!this.outbox) return;
    this.poller = setInterval(
      () => void this.poll(),
      Math.max(100, Math.min(POLL_MS, this.options.webhookRetryBaseMs)),
    );
  }

  /** Stop polling and cancel in-memory retries (stored ones wait in the outbox for any node). */
  stop(): void {
    clearInterval(this.poller);
    for (const t of this.retries) clearTimeout(t);
    this.retries.clear();
  }
}
