import type { Bus } from '../bus.ts';
import type { DevicePlacement, PresenceChange } from '../contract/device-event.ts';
import type { DeviceType } from '../contract/payloads.ts';
import { type ModelCatalogue, offlineAfterSeconds } from '../devices/models/index.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { Store } from '../store/store.ts';

type Placed = DevicePlacement & { deviceType: DeviceType };

interface Tracked {
  device: Placed;
  online: boolean;
  lastSeen: number;
  deadline: number;
  dirty: boolean;
}

export interface PresenceOptions {
  /** multiplies every model's heartbeat + grace (tests and accelerated simulations use < 1) */
  timeScale: number;
  sweepMs: number;
  flushMs: number;
}

/**
 * Which devices are online. A device is seen when it connects or sends anything valid; it goes
 * offline at once through its last will, or when it stays silent past its model's heartbeat
 * interval + grace (DOMAIN.md: LWT says a session ended, silence says a device is gone). Last-seen
 * times are stored, so a restart re-arms each deadline where it was rather than resetting it.
 */
export class Presence {
  private readonly tracked = new Map<string, Tracked>();
  private readonly unsubscribe: (() => void)[] = [];
  private sweepTimer: NodeJS.Timeout | undefined;
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: Store,
    private readonly models: ModelCatalogue,
    private readonly bus: Bus,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly options: PresenceOptions,
    private readonly now: () => number = Date.now,
  ) {}

  offlineAfterMs(modelId: string): number {
    const model = this.models.find(modelId);
    const seconds = model ? offlineAfterSeconds(model) : 25 * 3600;
    return seconds * 1000 * this.options.timeScale;
  }

  /** Live state, fresher than the store between flushes. */
  state(deviceId: string): { online: boolean; lastSeenAt: string | null } | undefined {
    const t = this.tracked.get(deviceId);
    if (!t) return undefined;
    return { online: t.online, lastSeenAt: t.lastSeen ? new Date(t.lastSeen).toISOString() : null };
  }

  /** The device connected or said something valid. */
  seen(device: Placed, at: number, reason: 'connect' | 'message'): void {
    const t = this.tracked.get(device.deviceId);
    const deadline = at + this.offlineAfterMs(device.modelId);
    if (t) {
      t.device = device;
      t.lastSeen = Math.max(t.lastSeen, at);
      t.deadline = Math.max(t.deadline, deadline);
      t.dirty = true;
      if (!t.online) this.change(t, true, reason);
      return;
    }
    const fresh: Tracked = { device, online: false, lastSeen: at, deadline, dirty: true };
    this.tracked.set(device.deviceId, fresh);
    this.change(fresh, true, reason);
  }

  /** The device's last will arrived (or it said so itself): offline now. */
  wentOffline(device: Placed, reason: 'will' | 'deadline'): void {
    const t = this.tracked.get(device.deviceId) ?? {
      device,
      online: true,
      lastSeen: 0,
      deadline: 0,
      dirty: true,
    };
    this.tracked.set(device.deviceId, t);
    if (t.online) this.change(t, false, reason);
  }

  private change(t: Tracked, online: boolean, reason: PresenceChange['reason']): void {
    t.online = online;
    // Transitions are rare and the device list filters on them, so they are written at once;
    // last-seen times alone are written in batches by flush().
    if (this.store.isOpen) {
      this.store.sqlite
        .prepare('UPDATE devices SET online = ?, last_seen_at = ? WHERE id = ?')
        .run(online ? 1 : 0, t.lastSeen ? new Date(t.lastSeen).toISOString() : null, t.device.deviceId);
    }
    this.metrics.devicesOnline.inc(online ? 1 : -1);
    this.bus.emit('device.presence', { ...t.device, online, at: online ? t.lastSeen : this.now(), reason });
  }

  /** A registry change: follow a move, and stop tracking a decommissioned device. */
  private async refresh(deviceId: string): Promise<void> {
    const t = this.tracked.get(deviceId);
    if (!t) return;
    const row = await this.store.db
      .selectFrom('devices')
      .innerJoin('grid_nodes', 'grid_nodes.id', 'devices.grid_node_id')
      .select([
        'devices.status',
        'devices.site_id',
        'devices.grid_node_id',
        'devices.emergency_unit_id',
        'grid_nodes.path',
      ])
      .where('devices.id', '=', deviceId)
      .executeTakeFirst();
    if (!row) return;
    t.device = {
      ...t.device,
      siteId: row.site_id,
      gridNodeId: row.grid_node_id,
      gridPath: row.path,
      emergencyUnitId: row.emergency_unit_id,
    };
    if (row.status === 'decommissioned') {
      if (t.online) this.change(t, false, 'decommissioned');
      this.tracked.delete(deviceId);
    }
  }

  /** Devices of a site that count for an outage (in service, seen at least once) and are offline now. */
  async offlineAt(siteId: string): Promise<string[]> {
    const rows = await this.store.db
      .selectFrom('devices')
      .select('id')
      .where('site_id', '=', siteId)
      .where('status', 'in', ['provisioned', 'active'])
      .where('last_seen_at', 'is not', null)
      .where('online', '=', 0)
      .execute();
    return rows.map((r) => r.id);
  }

  sweep(): void {
    const now = this.now();
    for (const t of this.tracked.values()) {
      if (t.online && t.deadline <= now) this.change(t, false, 'deadline');
    }
  }

  async flush(): Promise<void> {
    const dirty = [...this.tracked.values()].filter((t) => t.dirty);
    if (dirty.length === 0 || !this.store.isOpen) return;
    const update = this.store.sqlite.prepare<[string, number, string]>(
      'UPDATE devices SET last_seen_at = ?, online = ? WHERE id = ?',
    );
    this.store.sqlite.transaction(() => {
      for (const t of dirty) {
        update.run(new Date(t.lastSeen).toISOString(), t.online ? 1 : 0, t.device.deviceId);
        t.dirty = false;
      }
    })();
  }

  async start(): Promise<void> {
    // Re-arm: a device stored as online keeps its deadline from its stored last-seen time; one whose
    // deadline passed while the hub was down goes offline now.
    const rows = await this.store.db
      .selectFrom('devices')
      .innerJoin('grid_nodes', 'grid_nodes.id', 'devices.grid_node_id')
      .select([
        'devices.id',
        'devices.model_id',
        'devices.type',
        'devices.site_id',
        'devices.grid_node_id',
        'devices.emergency_unit_id',
        'devices.last_seen_at',
        'grid_nodes.path',
      ])
      .where('devices.online', '=', 1)
      .where('devices.status', '!=', 'decommissioned')
      .execute();
    for (const r of rows) {
      const lastSeen = r.last_seen_at ? Date.parse(r.last_seen_at) : 0;
      const device: Placed = {
        deviceId: r.id,
        modelId: r.model_id,
        deviceType: r.type as DeviceType,
        siteId: r.site_id,
        gridNodeId: r.grid_node_id,
        gridPath: r.path,
        emergencyUnitId: r.emergency_unit_id,
      };
      this.tracked.set(r.id, {
        device,
        online: true,
        lastSeen,
        deadline: lastSeen + this.offlineAfterMs(r.model_id),
        dirty: false,
      });
      this.metrics.devicesOnline.inc();
    }
    this.logger.info({ online: rows.length }, 'presence re-armed from store');
    this.unsubscribe.push(
      this.bus.on('device.event', (e) => this.seen(e, e.receivedAt, 'message')),
      this.bus.on('device.telemetry', (t) => this.seen(t, t.receivedAt, 'message')),
      this.bus.on('device.status', (s) =>
        s.state === 'online' ? this.seen(s, s.receivedAt, 'message') : this.wentOffline(s, 'will'),
      ),
      this.bus.on('device.changed', (c) => this.refresh(c.deviceId)),
    );
    this.sweep();
    this.sweepTimer = setInterval(() => this.sweep(), this.options.sweepMs);
    this.flushTimer = setInterval(() => {
      this.flush().catch((err: unknown) => this.logger.error({ err }, 'presence flush failed'));
    }, this.options.flushMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.sweepTimer);
    clearInterval(this.flushTimer);
    for (const off of this.unsubscribe.splice(0)) off();
    await this.flush();
    this.metrics.devicesOnline.set(0);
    this.tracked.clear();
  }
}
