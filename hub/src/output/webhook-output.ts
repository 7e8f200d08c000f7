import type { AckLinks } from '../alerts/ack-links.ts';
import type { DeliveryLog } from '../alerts/delivery.ts';
import { alertMessage } from '../alerts/message.ts';
import type { WebhookDeliverer } from '../alerts/webhook-deliverer.ts';
import type { WebhookTargets } from '../alerts/webhook-targets.ts';
import type { Bus } from '../bus.ts';
import type { Logger } from '../logger.ts';

/**
 * Group webhooks and chat robots of an alert's unit and grid, fed by `alert.notified` (a round that
 * reached someone on raise, escalation or upgrade). Each target gets its own signed acknowledgement
 * link; every attempt lands in the alert's delivery log; retries never delay MQTT.
 */
export class WebhookOutput {
  private off: (() => void) | undefined;

  constructor(
    private readonly bus: Bus,
    private readonly targets: WebhookTargets,
    private readonly deliverer: WebhookDeliverer,
    private readonly links: AckLinks,
    private readonly log: DeliveryLog,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    // Attempts are logged by origin, so a retry another node makes after this one died is logged too.
    this.deliverer.logTo('alert', async (origin, target, attempt, result, detail) => {
      if (origin.kind !== 'alert') return;
      await this.log(
        origin.alertId,
        origin.step,
        target.id,
        `webhook:${target.kind}`,
        attempt,
        result,
        detail,
      );
    });
    this.off = this.bus.on('alert.notified', async ({ alert, scope, site, recipients }) => {
      for (const target of await this.targets.forAlert(scope, alert.severity)) {
        const message = alertMessage(
          alert,
          site,
          this.links.url(alert.id, `webhook:${target.id}`),
          recipients,
        );
        this.deliverer.send(target, message, { kind: 'alert', alertId: alert.id, step: alert.step });
      }
    });
    this.logger.debug('webhook output started');
  }

  async stop(): Promise<void> {
    this.off?.();
    this.deliverer.stop();
  }
}
