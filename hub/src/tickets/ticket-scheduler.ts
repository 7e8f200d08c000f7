import type { Logger } from '../logger.ts';
import type { TicketService } from './ticket-service.ts';

/**
 * Timers live in the database (DESIGN.md contract 7): ticket deadlines are stored due times, and this
 * service checks them on a tick. At start it checks at once, so a deadline that passed while the hub
 * was down fires then, once (the escalation moves the due time on).
 */
export class TicketScheduler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly tickets: TicketService,
    private readonly tickMs: number,
    private readonly logger: Logger,
  ) {}

  private tick(): void {
    this.running = this.running.then(() =>
      this.tickets.escalateDue().then(
        (n) => {
          if (n > 0) this.logger.info({ due: n }, 'ticket deadlines passed');
        },
        (err: unknown) => this.logger.error({ err }, 'ticket scheduler failed'),
      ),
    );
  }

  async start(): Promise<void> {
    this.tick();
    await this.running;
    this.timer = setInterval(() => this.tick(), this.tickMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}
