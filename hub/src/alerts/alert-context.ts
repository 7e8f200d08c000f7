import type { Bus } from '../bus.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { OutboundPolicy } from '../outbound/address-policy.ts';
import type { PolicyService } from '../policies/policy-service.ts';
import type { StorageHealth } from '../store/storage-health.ts';
import type { Store } from '../store/store.ts';
import type { AlertRow } from '../store/tables.ts';
import type { AlertFeed } from './alert-feed.ts';
import type { VolatileAlerts } from './volatile-alerts.ts';

export interface AlertOptions {
  tickMs: number;
  webhookTimeoutMs: number;
  webhookRetries: number;
  webhookRetryBaseMs: number;
  linkTtlMs: number;
  linkSecret: string;
  publicUrl: () => string;
  /** told of storage failures; alerts are then held and delivered from memory */
  storage?: StorageHealth;
  /** where webhooks and robots may be reached (config `outbound.allow`) */
  outbound: OutboundPolicy;
}

/** What every part of the alerts service shares: its store, knobs, clock and the alerts held in memory. */
export interface AlertContext {
  store: Store;
  policies: PolicyService;
  bus: Bus;
  metrics: Metrics;
  logger: Logger;
  options: AlertOptions;
  now: () => number;
  /** alerts raised while the store refused writes */
  volatile: VolatileAlerts;
  feed: AlertFeed;
}

/** Where an alert is, for its policies. */
export const alertAt = (r: Pick<AlertRow, 'grid_path' | 'site_id' | 'device_id'>) => ({
  gridPath: r.grid_path,
  siteId: r.site_id,
  deviceId: r.device_id,
});

/** A per-severity policy (seconds) in ms; an unknown severity takes the critical value. */
export function perSeverity(
  policies: PolicyService,
  key: 'alert.stepDelaySeconds' | 'alert.renotifySeconds' | 'alert.ackSeconds',
  severity: string,
  at: { gridPath: string; siteId: string | null; deviceId: string | null },
): number {
  const map = policies.value(key, at);
  return (map[severity] ?? map.critical ?? 60) * 1000;
}

/** Did the store refuse a write because of storage (then the alert goes on from memory)? */
export const storageFailed = (ctx: AlertContext, err: unknown): boolean =>
  ctx.options.storage?.failed('store', err) !== undefined;
