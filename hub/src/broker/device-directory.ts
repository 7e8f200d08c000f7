import type { Statement } from 'better-sqlite3';
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
 * decommissioning takes effect at once.
 */
export class DeviceDirectory {
  private readonly cache = new Map<string, { device: KnownDevice; until: number }>();
  private byId: Statement<[string], Row> | undefined;

  constructor(
    private readonly store: Store,
    private readonly cacheMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  private statement(): Statement<[string], Row> {
    this.byId ??= this.store.sqlite.prepare<[string], Row>(
      `SELECT d.id, d.model_id, d.type, d.site_id, d.grid_node_id, d.emergency_unit_id, d.status, d.secret_hash, g.path,
              EXISTS (SELECT 1 FROM people p WHERE p.id = d.id) AS id_is_person
         FROM devices d JOIN grid_nodes g ON g.id = d.grid_node_id WHERE d.id = ?`,
    );
    return this.byId;
  }

  find(deviceId: string): KnownDevice | undefined {
    const hit = this.cache.get(deviceId);
    if (hit && hit.until > this.now()) return hit.device;
    const row = this.statement().get(deviceId);
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
    if (this.cacheMs > 0) this.cache.set(deviceId, { device, until: this.now() + this.cacheMs });
    return device;
  }

  verify(deviceId: string, secret: string): DeviceCheck {
    const device = this.find(deviceId);
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
    this.cache.delete(deviceId);
  }

  clear(): void {
    this.cache.clear();
    this.byId = undefined;
  }
}
