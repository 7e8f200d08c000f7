import { sql } from 'kysely';
import { secretMatches } from '../auth/credentials.ts';
import { type DevicePlacement, type DevicePlacementRow, devicePlacement } from '../contract/device-event.ts';
import type { DeviceType } from '../contract/payloads.ts';
import type { DeviceStatus } from '../devices/device-schemas.ts';
import type { Store } from '../store/store.ts';

export interface KnownDevice extends DevicePlacement {
  deviceType: DeviceType;
  status: DeviceStatus;
  secretHash: string;
  /**
   * A person has this id too (data from before registration refused it): its MQTT client id would
   * name both, so the broker refuses the device rather than let either take the other's session.
   */
  idIsPerson?: boolean;
}

interface Row extends DevicePlacementRow {
  status: string;
  secret_hash: string;
  id_is_person: number;
}

export type DeviceCheck =
  | { ok: true; device: KnownDevice }
  | {
      ok: false;
      code: 'GH_ERR_DEVICE_UNKNOWN' | 'GH_ERR_MQTT_BAD_CREDENTIALS' | 'GH_ERR_DEVICE_DECOMMISSIONED';
    };

/**
 * Device identity and placement for the broker and ingest, on the hot path. Rows are cached for a
 * configured time and dropped when the registry says a device changed, so a reconnect storm of
 * thousands of devices costs a SHA-256 each, not a query each; a rotated secret or a
 * decommissioning takes effect at once. A miss is one indexed query on either store dialect;
 * concurrent misses for one device share it (and so resolve in the order they were asked).
 */
export class DeviceDirectory {
  private readonly cache = new Map<string, { device: KnownDevice; until: number }>();
  private readonly pending = new Map<string, Promise<KnownDevice | undefined>>();
  /** bumped by every change, so a lookup that started before it does not cache what it read */
  private generation = 0;

  constructor(
    private readonly store: Store,
    private readonly cacheMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  private async load(deviceId: string): Promise<KnownDevice | undefined> {
    const generation = this.generation;
    const row: Row | undefined = await this.store.db
      .selectFrom('devices as d')
      .innerJoin('grid_nodes as g', 'g.id', 'd.grid_node_id')
      .select([
        'd.id',
        'd.model_id',
        'd.type',
        'd.site_id',
        'd.grid_node_id',
        'd.emergency_unit_id',
        'd.status',
        'd.secret_hash',
        'g.path',
        // a device whose id is also a person's is refused at CONNECT (one id, one identity)
        sql<number>`case when exists (select 1 from people p where p.id = d.id) then 1 else 0 end`.as(
          'id_is_person',
        ),
      ])
      .where('d.id', '=', deviceId)
      .executeTakeFirst();
    if (!row) {
      this.cache.delete(deviceId);
      return undefined;
    }
    const device: KnownDevice = {
      ...devicePlacement(row),
      status: row.status as DeviceStatus,
      secretHash: row.secret_hash,
      ...(row.id_is_person ? { idIsPerson: true } : {}),
    };
    if (this.cacheMs > 0 && generation === this.generation)
      this.cache.set(deviceId, { device, until: this.now() + this.cacheMs });
    return device;
  }

  find(deviceId: string): Promise<KnownDevice | undefined> {
    const hit = this.cache.get(deviceId);
    if (hit && hit.until > this.now()) return Promise.resolve(hit.device);
    let p = this.pending.get(deviceId);
    if (!p) {
      p = this.load(deviceId).finally(() => this.pending.delete(deviceId));
      this.pending.set(deviceId, p);
    }
    return p;
  }

  async verify(deviceId: string, secret: string): Promise<DeviceCheck> {
    const device = await this.find(deviceId);
    if (!device) return { ok: false, code: 'GH_ERR_DEVICE_UNKNOWN' };
    if (!secretMatches(secret, device.secretHash)) return { ok: false, code: 'GH_ERR_MQTT_BAD_CREDENTIALS' };
    if (device.status === 'decommissioned') return { ok: false, code: 'GH_ERR_DEVICE_DECOMMISSIONED' };
    return { ok: true, device };
  }

  /** Mark a provisioned device active in the cache after ingest promoted it in the store. */
  setStatus(deviceId: string, status: DeviceStatus): void {
    const hit = this.cache.get(deviceId);
    if (hit) hit.device.status = status;
  }

  invalidate(deviceId: string): void {
    this.generation++;
    this.cache.delete(deviceId);
    this.pending.delete(deviceId);
  }

  clear(): void {
    this.generation++;
    this.cache.clear();
    this.pending.clear();
  }
}
