import type { AlertRequested } from '../bus.ts';
import type {
  DeviceEvent,
  DevicePlacement,
  DeviceTelemetry,
  PresenceChange,
} from '../contract/device-event.ts';
import type { DeviceType } from '../contract/payloads.ts';
import { placement } from '../grid/placement.ts';
import type { Logger } from '../logger.ts';
import { type PolicyContext, policyContext } from '../policies/policy-service.ts';
import type { Store } from '../store/store.ts';
import type { TicketPlacement, TicketService } from '../tickets/ticket-service.ts';

export interface SiteInfo {
  id: string;
  name: string;
  building: string | null;
}

/** What a rule may use: typed, narrow, and the same in tests and production. */
export interface RuleContext {
  now(): number;
  policy<T>(key: string, at: PolicyContext): T;
  tickets: TicketService;
  requestAlert(request: Omit<AlertRequested, 'at'>): void;
  site(siteId: string): Promise<SiteInfo>;
  store: Store;
  logger: Logger;
}

interface RuleBase {
  name: string;
  description: string;
  /** release timers and state on stop */
  stop?(): void;
}

/** A rule is a record (STYLE.md §4): what it listens to, which device types, and a typed handler. */
export type Rule = RuleBase &
  (
    | {
        on: 'device.event';
        deviceTypes: readonly DeviceType[];
        handle(e: DeviceEvent, ctx: RuleContext): Promise<void>;
      }
    | {
        on: 'device.telemetry';
        deviceTypes: readonly DeviceType[];
        handle(t: DeviceTelemetry, ctx: RuleContext): Promise<void>;
      }
    | { on: 'device.presence'; handle(p: PresenceChange, ctx: RuleContext): Promise<void> }
    | { on: 'tick'; everyMs: (ctx: RuleContext) => number; handle(ctx: RuleContext): Promise<void> }
  );

/** Policy context of anything placed on a device. */
export const policyAt = policyContext;

/** The ticket placement of anything placed on a device (a DeviceEvent, a PresenceChange, …). */
export function placementOf(p: DevicePlacement & { deviceType?: string }): TicketPlacement {
  return placement(p);
}

export function eventRef(e: DeviceEvent): string {
  return `${e.deviceId}:${e.event.eventId}`;
}
