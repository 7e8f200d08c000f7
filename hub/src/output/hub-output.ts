import type { AlertService } from '../alerts/alert-service.ts';
import type { Bus } from '../bus.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { AlertStream } from './alert-stream.ts';
import { StaffOutput, type StaffOutputOptions, type StaffPublisher } from './staff-output.ts';
import { WebhookOutput } from './webhook-output.ts';

/**
 * The hub's one output adapter (issue 17): MQTT staff topics, the console's alert stream (SSE) and
 * group webhooks, each fed only by bus events that carry their delivery scope. Started before the
 * services that announce things, stopped after them.
 */
export class HubOutput {
  readonly staff: StaffOutput;
  readonly alertStream: AlertStream;
  readonly webhooks: WebhookOutput;

  constructor(
    bus: Bus,
    broker: StaffPublisher,
    alerts: AlertService,
    metrics: Metrics,
    logger: Logger,
    staff: StaffOutputOptions,
  ) {
    this.staff = new StaffOutput(bus, broker, metrics, logger.child({ part: 'staff' }), staff);
    this.alertStream = new AlertStream(bus);
    this.webhooks = new WebhookOutput(
      bus,
      alerts.webhooks,
      alerts.deliverer,
      alerts.links,
      alerts.delivery.log,
      logger.child({ part: 'webhooks' }),
    );
  }

  async start(): Promise<void> {
    await this.staff.start();
    await this.alertStream.start();
    await this.webhooks.start();
  }

  async stop(): Promise<void> {
    await this.webhooks.stop();
    await this.alertStream.stop();
    await this.staff.stop();
  }
}
