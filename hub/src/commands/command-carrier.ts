import type { CommandPayload, CommandType } from '../contract/payloads.ts';

/**
 * How commands reach devices that never dial the hub's broker (issue 20): the integration that
 * carries the device (CTWing, OneNET, ChirpStack) sends them through its platform. Declared here,
 * implemented by hub/src/ingress, so the command service does not import an adapter.
 */
export interface CommandCarrier {
  /** how long a command the platform could not take waits before it is offered again */
  readonly retryMs: number;
  /**
   * The integration whose platform carries `type` to this device; undefined when the device dials
   * the broker; a refusal (shown to the caller) when it lives behind a platform that cannot take it.
   */
  route(
    device: { id: string; modelId: string },
    type: CommandType,
  ): Promise<{ integrationId: string } | { refused: string } | undefined>;
  /** Hand the command to the platform; resolves with the platform's own id of the command. */
  send(
    integrationId: string,
    device: { id: string; modelId: string },
    payload: CommandPayload,
  ): Promise<string>;
}

/** The platform said no for good (bad credentials, unknown device, …): retrying cannot help. */
export class CarrierRefused extends Error {}

/** What a platform reported about a command it carried (OneNET type 7, CTWing commandResponse, ChirpStack ack). */
export interface PlatformCommandResult {
  /** the platform's id of the command (CTWing taskId / commandId, OneNET cmd_uuid, ChirpStack queue item id) */
  platformId: string;
  /** pending: still at the platform; delivered: the device has it; then its outcome */
  outcome: 'pending' | 'delivered' | 'acknowledged' | 'done' | 'failed';
  detail?: string;
}
