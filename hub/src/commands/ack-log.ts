import type { KnownDevice } from '../broker/device-directory.ts';
import { topicFor } from '../contract/topics.ts';
import type { ErrorCode } from '../errors.ts';
import { CommissioningLog } from '../ingest/commissioning.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';

/** What the commissioning log, the metrics and the log keep of a device's cmd/ack. */
export class AckLog {
  constructor(
    private readonly commissioning: CommissioningLog,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly now: () => number,
  ) {}

  refused(device: KnownDevice, code: ErrorCode, reason: string, payload: Buffer): void {
    this.metrics.errors.inc({ code, source: 'mqtt' });
    this.commissioning.record(device.deviceId, 'rejected', {
      at: new Date(this.now()).toISOString(),
      topic: topicFor('commandAck', device),
      what: 'cmd/ack',
      code,
      reason,
      excerpt: CommissioningLog.excerpt(payload),
    });
    this.logger.info({ deviceId: device.deviceId, code, reason }, 'command ack refused');
  }

  accepted(device: KnownDevice, status: string, payload: Buffer): void {
    this.commissioning.record(device.deviceId, 'accepted', {
      at: new Date(this.now()).toISOString(),
      topic: topicFor('commandAck', device),
      what: `cmd/ack ${status}`,
      excerpt: CommissioningLog.excerpt(payload),
    });
  }
}
