import { sql } from 'kysely';
import type { Bus } from '../bus.ts';
import { type DevicePlacement, devicePlacement, type PresenceChange } from '../contract/device-event.ts';
import type { DeviceType } from '../contract/payloads.ts';
import { type ModelCatalogue, offlineAfterSeconds } from '../devices/models/index.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { eachRowidPage } from '../store/pages.ts';
import type { StorageHealth } from '../store/storage-health.ts';
import type { Store } from '../store/store.ts';
import { timeSlicer } from '../yield.ts';

type Placed = DevicePlacement & { deviceType: DeviceType };

/**
 * Devices written per transaction when many change at once (a restart after downtime, a street
 * losing power, a flush of a large fleet): each chunk is a few milliseconds, and the loop is
 * yielded to between chunks so an alarm never waits behind 100,000 presence rows.
 */
const WRITE_CHUNK = 250;

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

/** Cluster mode (issue 19, cluster/presence-owners.ts): which node may say a device went offline. */
export interface PresenceOwnership {
  /** this node holds the device's connection now */
  claim(deviceId: string): void;
  /** may this node raise the device's offline? Answers true to one node only, and never while another live node holds it */
  mayGoOffline(deviceId: string, reason: 'will' | 'deadline'): Promise<boolean>;
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
  private transitionTimer: NodeJS.Timeout | undefined;
  /** told of storage failures (set by the composition root) */
  storage: StorageHealth | undefined;
  private sweeping = false;
  /** cluster mode: set by the cluster node; a device held by another node is not this node's to end */
  ownership: PresenceOwnership | undefined;

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
    // cluster mode: a connection, or a device back from offline, is this node's to end from now on
    if (reason === 'connect' || !t?.online) this.ownership?.claim(device.deviceId);
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
    const ownership = this.ownership;
    if (!ownership) return this.markOffline(device, reason);
    ownership.mayGoOffline(device.deviceId, reason).then(
      (mine) => (mine ? this.markOffline(device, reason) : this.forget(device.deviceId)),
      // Redis unreachable: this node acts on what it saw rather than never marking anyone offline.
      () => this.markOffline(device, reason),
    );
  }

  /** Offline now, decided (cluster mode: by this node's ownership check, or a dead node's reaper). */
  markOffline(device: Placed, reason: 'will' | 'deadline'): void {
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

  /** Another node holds the device now: stop tracking it here, saying nothing. */
  private forget(deviceId: string): void {
    const t = this.tracked.get(deviceId);
    if (t?.online) this.metrics.devicesOnline.dec();
    this.tracked.delete(deviceId);
  }

  /** Cluster mode: of the devices due, those this node may end (the others are forgotten here). */
  private async mine(due: Tracked[]): Promise<Tracked[]> {
    const ownership = this.ownership;
    if (!ownership) return due;
    const answers = await Promise.all(
      due.map((t) => ownership.mayGoOffline(t.device.deviceId, 'deadline').catch(() => true)),
    );
    for (const [i, t] of due.entries()) if (!answers[i]) this.forget(t.device.deviceId);
    return due.filter((_, i) => answers[i]);
  }

  private change(t: Tracked, online: boolean, reason: PresenceChange['reason']): void {
    t.online = online;
    // Written within a quarter second, in one transaction with the others: a reconnect storm of
    // thousands of devices is one write, not thousands of fsyncs on the event loop, and a full disk
    // cannot throw out of a connection handler (the live state is served from memory meanwhile).
    t.dirty = true;
    this.transitionFlushSoon();
    this.announce(t, online, reason);
  }

  private transitionFlushSoon(): void {
    if (this.transitionTimer) return;
    this.transitionTimer = setTimeout(() => {
      this.transitionTimer = undefined;
      this.flush().catch((err: unknown) => this.logger.error({ err }, 'presence flush failed'));
    }, 250);
  }

  private announce(t: Tracked, online: boolean, reason: PresenceChange['reason']): void {
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

  /**
   * Devices of a site that count for an outage (in service, seen at least once) and are offline now.
   * The live state wins over the store's row, which trails it by up to one flush.
   */
  async offlineAt(siteId: string): Promise<string[]> {
    const rows = await this.store.db
      .selectFrom('devices')
      .select(['id', 'online', 'last_seen_at'])
      .where('site_id', '=', siteId)
      .where('status', 'in', ['provisioned', 'active'])
      .execute();
    return rows
      .filter((r) => {
        const live = this.tracked.get(r.id);
        const seen = live ? live.lastSeen > 0 : r.last_seen_at != null;
        const online = live ? live.online : r.online === 1;
        return seen && !online;
      })
      .map((r) => r.id);
  }

  /**
   * Every online device past its deadline goes offline. Many at once (after downtime, or a whole
   * street losing power) are written in chunks of one transaction each, with yields between.
   */
  async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const now = this.now();
      const due: Tracked[] = [];
      for (const t of this.tracked.values()) if (t.online && t.deadline <= now) due.push(t);
      const slice = timeSlicer();
      for (let i = 0; i < due.length; i += WRITE_CHUNK) {
        // Still due: a message may have arrived while an earlier chunk was written.
        const mine = await this.mine(
          due.slice(i, i + WRITE_CHUNK).filter((t) => t.online && t.deadline <= this.now()),
        );
        // Heard from while the cluster was asked: still online, and this node's again.
        const chunk = mine.filter((t) => t.online && t.deadline <= this.now());
        for (const t of mine) if (!chunk.includes(t)) this.ownership?.claim(t.device.deviceId);
        // Marked and announced before the write is awaited: a message arriving meanwhile brings the
        // device back online (and dirty), which the next flush writes over this one.
        for (const t of chunk) {
          t.online = false;
          this.announce(t, false, 'deadline');
        }
        const written = await this.write(chunk.map((t) => [0, t.lastSeen || null, t.device.deviceId]));
        if (!written) for (const t of chunk) t.dirty = true;
        await slice();
      }
    } finally {
      this.sweeping = false;
    }
  }

  /**
   * One `UPDATE devices … FROM (VALUES …)` statement for a chunk of rows (one round trip on
   * PostgreSQL, one statement on SQLite); false when the store refused it (reported; the caller
   * keeps the rows dirty for the next flush). VALUES columns are column1… on both dialects; the
   * casts give PostgreSQL the parameters' types.
   */
  private async write(rows: [number, number | null, string][]): Promise<boolean> {
    if (rows.length === 0 || !this.store.isOpen) return true;
    try {
      const values = sql.join(
        rows.map(
          ([online, seen, id]) =>
            sql`(CAST(${online} AS BIGINT), CAST(${seen} AS BIGINT), CAST(${id} AS TEXT))`,
        ),
      );
      await sql`UPDATE devices SET online = v.column1, last_seen_at = v.column2
        FROM (VALUES ${values}) AS v WHERE devices.id = v.column3`.execute(this.store.db);
      return true;
    } catch (err) {
      if (!this.storage?.failed('store', err)) throw err;
      return false;
    }
  }

  async flush(): Promise<void> {
    const dirty = [...this.tracked.values()].filter((t) => t.dirty);
    const slice = timeSlicer();
    for (let i = 0; i < dirty.length && this.store.isOpen; i += WRITE_CHUNK) {
      const chunk = dirty.slice(i, i + WRITE_CHUNK);
      // Clean before the write is awaited, so a change meanwhile stays dirty for the next flush.
      for (const t of chunk) t.dirty = false;
      const rows = chunk.map((t): [number, number, string] => [
        t.online ? 1 : 0,
        t.lastSeen,
        t.device.deviceId,
      ]);
      if (!(await this.write(rows))) {
        for (const t of chunk) t.dirty = true;
        return;
      }
      await slice();
    }
  }

  async start(): Promise<void> {
    // Re-arm: a device stored as online keeps its deadline from its stored last-seen time; one whose
    // deadline passed while the hub was down goes offline now. Read a page at a time.
    let online = 0;
    await eachRowidPage(
      (after, limit) =>
        this.store.db
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
            sql<number>`devices.rowid`.as('rid'),
          ])
          .where('devices.online', '=', 1)
          .where('devices.status', '!=', 'decommissioned')
          .where(sql<number>`devices.rowid`, '>', after)
          .orderBy(sql`devices.rowid`)
          .limit(limit)
          .execute(),
      (rows) => {
        for (const r of rows) {
          const lastSeen = r.last_seen_at ?? 0;
          const device: Placed = devicePlacement(r);
          this.tracked.set(r.id, {
            device,
            online: true,
            lastSeen,
            deadline: lastSeen + this.offlineAfterMs(r.model_id),
            dirty: false,
          });
        }
        online += rows.length;
        this.metrics.devicesOnline.inc(rows.length);
      },
      timeSlicer(),
    );
    this.logger.info({ online }, 'presence re-armed from store');
    this.unsubscribe.push(
      this.bus.on('device.event', (e) => this.seen(e, e.receivedAt, 'message')),
      this.bus.on('device.telemetry', (t) => this.seen(t, t.receivedAt, 'message')),
      this.bus.on('device.status', (s) =>
        s.state === 'online' ? this.seen(s, s.receivedAt, 'message') : this.wentOffline(s, 'will'),
      ),
      this.bus.on('device.changed', (c) => this.refresh(c.deviceId)),
    );
    await this.sweep();
    this.sweepTimer = setInterval(() => {
      this.sweep().catch((err: unknown) => this.logger.error({ err }, 'presence sweep failed'));
    }, this.options.sweepMs);
    this.flushTimer = setInterval(() => {
      this.flush().catch((err: unknown) => this.logger.error({ err }, 'presence flush failed'));
    }, this.options.flushMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.sweepTimer);
    clearInterval(this.flushTimer);
    clearTimeout(this.transitionTimer);
    this.transitionTimer = undefined;
    for (const off of this.unsubscribe.splice(0)) off();
    await this.flush();
    this.metrics.devicesOnline.set(0);
    this.tracked.clear();
  }
}
