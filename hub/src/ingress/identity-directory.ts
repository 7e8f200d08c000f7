import type { DeviceDirectory, KnownDevice } from '../broker/device-directory.ts';
import { IDENTITY_COLUMNS, type IdentityField, normaliseIdentity } from '../devices/identities.ts';
import type { Store } from '../store/store.ts';

/**
 * Platform identity → device, on the push path. The id is cached (also "nobody", so a platform
 * retrying an unknown device costs no query each time); the whole cache is dropped when the
 * registry changes a device, which is rare next to messages. Placement comes from the broker's
 * device directory, so both paths see a move or a decommissioning the same way. A miss is one
 * indexed query on either store dialect; concurrent misses for one identity share it.
 */
export class IdentityDirectory {
  private readonly ids = new Map<string, string | null>();
  private readonly pending = new Map<string, Promise<string | null>>();
  private generation = 0;

  constructor(
    private readonly store: Store,
    private readonly devices: DeviceDirectory,
  ) {}

  private async load(key: string, field: IdentityField, value: string): Promise<string | null> {
    const generation = this.generation;
    const row = await this.store.db
      .selectFrom('devices')
      .select('id')
      .where(IDENTITY_COLUMNS[field], '=', value)
      .executeTakeFirst();
    const id = row?.id ?? null;
    if (generation === this.generation) {
      if (this.ids.size > 200_000) this.ids.clear();
      this.ids.set(key, id);
    }
    return id;
  }

  async find(field: IdentityField, raw: string): Promise<KnownDevice | undefined> {
    const value = normaliseIdentity(field, raw);
    const key = `${field}:${value}`;
    let id = this.ids.get(key);
    if (id === undefined) {
      let p = this.pending.get(key);
      if (!p) {
        p = this.load(key, field, value).finally(() => this.pending.delete(key));
        this.pending.set(key, p);
      }
      id = await p;
    }
    return id === null ? undefined : this.devices.find(id);
  }

  invalidate(deviceId: string): void {
    this.generation++;
    this.ids.clear();
    this.pending.clear();
    this.devices.invalidate(deviceId);
  }

  clear(): void {
    this.generation++;
    this.ids.clear();
    this.pending.clear();
  }
}
