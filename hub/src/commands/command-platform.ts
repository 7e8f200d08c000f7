import type { KnownDevice } from '../broker/device-directory.ts';
import type { CommandType } from '../contract/payloads.ts';
import { GridhubError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { Db } from '../store/store.ts';
import type { DeviceCommandRow } from '../store/tables.ts';
import { CarrierRefused, type CommandCarrier, type PlatformCommandResult } from './command-carrier.ts';
import type { CommandState, CommandView } from './command-schemas.ts';
import { commandPayload } from './command-view.ts';

type Transition = (
  id: string,
  to: CommandState,
  actor: string,
  result: CommandView['result'],
) => Promise<DeviceCommandRow | undefined>;

/**
 * Commands to devices behind a carrier platform (issue 20): handed to the integration's platform
 * instead of the broker, the platform's id of the command stored on the row, and the platform's
 * result pushes (OneNET type 7, CTWing commandResponse, ChirpStack ack) move the log on. A platform
 * that cannot be reached leaves the command queued and is asked again; one that refuses it fails it.
 */
export class PlatformCommands {
  carrier: CommandCarrier | undefined;
  private readonly inFlight = new Map<string, number>();

  constructor(
    private readonly db: () => Db,
    private readonly transition: Transition,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly now: () => number,
  ) {}

  /** The integration that carries `type` to the device, or null for the broker (refusals throw). */
  async routeFor(device: { id: string; modelId: string }, type: CommandType): Promise<string | null> {
    const r = await this.carrier?.route(device, type);
    if (!r) return null;
    if ('refused' in r) throw new GridhubError('GH_ERR_COMMAND_UNSUPPORTED', r.refused);
    return r.integrationId;
  }

  async send(row: DeviceCommandRow, modelId: string): Promise<void> {
    const via = row.via_integration;
    if (!via || !this.carrier || this.inFlight.has(row.id)) return;
    this.inFlight.set(row.id, this.now());
    try {
      const platformId = await this.carrier.send(via, { id: row.device_id, modelId }, commandPayload(row));
      await this.db()
        .updateTable('device_commands')
        .set({ platform_command_id: platformId, updated_at: this.now() })
        .where('id', '=', row.id)
        .execute();
      this.metrics.deviceCommands.inc({ type: row.type, state: 'platform' });
    } catch (err) {
      if (err instanceof CarrierRefused) {
        await this.transition(row.id, 'failed', `integration:${via}`, {
          status: 'failed',
          reason: err.message.slice(0, 300),
        });
        return;
      }
      // Not reached or no answer: still queued; the sweep asks the platform again after retryMs.
      this.logger.warn({ err, commandId: row.id, integration: via }, 'platform did not take the command');
      await this.db()
        .updateTable('device_commands')
        .set({ updated_at: this.now() })
        .where('id', '=', row.id)
        .execute()
        .catch(() => undefined);
    } finally {
      this.inFlight.delete(row.id);
    }
  }

  /** Queued platform commands the platform has not taken yet: asked again (from the sweep). */
  async retry(): Promise<void> {
    if (!this.carrier) return;
    const due = await this.db()
      .selectFrom('device_commands')
      .innerJoin('devices', 'devices.id', 'device_commands.device_id')
      .selectAll('device_commands')
      .select('devices.model_id')
      .where('device_commands.state', '=', 'queued')
      .where('device_commands.via_integration', 'is not', null)
      .where('device_commands.platform_command_id', 'is', null)
      .where('device_commands.expires_at', '>', this.now())
      .where('device_commands.updated_at', '<=', this.now() - this.carrier.retryMs)
      .execute();
    for (const { model_id, ...row } of due) {
      // Nodes sharing the store sweep alike: the one whose update moved the row on asks the
      // platform; one that dies asking leaves it for the next sweep after retryMs (issue 19).
      const claimed = await this.db()
        .updateTable('device_commands')
        .set({ updated_at: this.now() })
        .where('id', '=', row.id)
        .where('updated_at', '=', row.updated_at)
        .where('platform_command_id', 'is', null)
        .executeTakeFirst();
      if (Number(claimed.numUpdatedRows) === 1) await this.send(row, model_id);
    }
  }

  /** A platform's word on a command it carried. */
  async result(device: KnownDevice, r: PlatformCommandResult, integrationId: string): Promise<void> {
    const row = await this.db()
      .selectFrom('device_commands')
      .selectAll()
      .where('via_integration', '=', integrationId)
      .where('platform_command_id', '=', r.platformId)
      .where('device_id', '=', device.deviceId)
      .executeTakeFirst();
    if (!row) {
      this.logger.info(
        { deviceId: device.deviceId, integration: integrationId, platformCommandId: r.platformId },
        'platform result for a command the hub did not send',
      );
      return;
    }
    const to: CommandState | undefined =
      r.outcome === 'delivered' ? 'sent' : r.outcome === 'pending' ? undefined : r.outcome;
    if (to)
      await this.transition(
        row.id,
        to,
        `device:${device.deviceId}`,
        to === 'failed' || to === 'done' ? { status: to, ...(r.detail ? { reason: r.detail } : {}) } : null,
      );
  }
}
