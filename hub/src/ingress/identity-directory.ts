import type { Statement } from 'better-sqlite3';
import type { DeviceDirectory, KnownDevice } from '../broker/device-directory.ts';
import { IDENTITY_COLUMNS, type IdentityField, normaliseIdentity } from '../devices/identities.ts';
import type { Store } from '../store/store.ts';

/**
 * Platform identity → device, on the push path. The id is cached (also "nobody", so a platform
 * retrying an unknown device costs no query each time); the whole cache is dropped when the
 * registry changes a device, which is rare next to messages. Placement comes from the broker's
 * device directory, so both paths see a move or a decommissioning the same way.
 */
export class IdentityDirectory {
  private readonly ids = new Map<string, string | null>();
  private readonly statements = new Map<IdentityField, Statement<[string], { id: string }>>();

  constructor(
    private readonly store: Store,
    private readonly devices: DeviceDirectory,
  ) {}

  find(field: IdentityField, raw: string): KnownDevice | undefined {
    const value = normaliseIdentity(field, raw);
    const key = `${field}:${value}`;
    let id = this.ids.get(key);
    if (id === undefined) {
      let stmt = this.statements.get(field);
      if (!stmt) {
        stmt = this.store.sqlite.prepare<[string], { id: string }>(
          `SELECT id FROM devices WHERE ${IDENTITY_COLUMNS[field]} = ?`,
        );
        this.statements.set(field, stmt);
      }
      id = stmt.get(value)?.id ?? null;
      if (this.ids.size > 200_000) this.ids.clear();
      this.ids.set(key, id);
    }
    return id === null ? undefined : this.devices.find(id);
  }

  invalidate(deviceId: string): void {
    this.ids.clear();
    this.devices.invalidate(deviceId);
  }

  clear(): void {
    this.ids.clear();
    this.statements.clear();
  }
}
