import type { AlertRequested } from '../bus.ts';
import type {
  DeviceEvent,
  DevicePlacement,
  DeviceTelemetry,
  PresenceChange,
} from '../contract/device-event.ts';
import type { DeviceType } from '../contract/payloads.ts';
import type { ElevatorMaintenance } from '../elevators/maintenance-visits.ts';
import { placement } from '../grid/placement.ts';
import type { Logger } from '../logger.ts';
import type { PolicyKey, PolicyValue } from '../policies/definitions.ts';
import { type PolicyContext, policyContext } from '../policies/policy-service.ts';
import type { RuleTickets, TicketPlacement } from '../tickets/ticket-service.ts';

export interface SiteInfo {
  id: string;
  name: string;
  building: string | null;
}

/** What rules may do with alerts besides asking for one: resolve a device's own after its restore. */
export interface RuleAlerts {
  resolveRestored(deviceId: string, causes: (cause: string) => boolean, reason: string): Promise<number>;
}

/**
 * What a rule may use: typed, narrow, and the same in tests and production. No store: a rule reads
 * through the services that own the data (tickets, presence, maintenance visits) and asks for
 * alerts on the bus.
 */
export interface RuleContext {
  now(): number;
  policy<K extends PolicyKey>(key: K, at: PolicyContext): PolicyValue<K>;
  tickets: RuleTickets;
  alerts: RuleAlerts;
  requestAlert(request: Omit<AlertRequested, 'at'>): void;
  site(siteId: string): Promise<SiteInfo>;
  /** devices of a site that are offline now (presence) */
  offlineAt(siteId: string): Promise<string[]>;
  /** every elevator in service with its last maintenance visit */
  elevatorVisits(): Promise<ElevatorMaintenance[]>;
  /** cluster mode: the outage window of every node (a single node's own batch is the whole window) */
  offlineWindow?: SharedOfflineWindow;
  logger: Logger;
}

/** The devices of a site that went offline lately, as all the nodes of a cluster saw them. */
export interface SharedOfflineWindow {
  offline(siteId: string, deviceId: string, at: number, windowMs: number): Promise<void>;
  online(siteId: string, deviceId: string): Promise<void>;
  /** the devices of the site offline since `since` (and not back online meanwhile) */
  since(siteId: string, since: number): Promise<string[]>;
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
