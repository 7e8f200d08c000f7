import type { ErrorCode } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { Store } from '../store/store.ts';
import { isoText } from '../time.ts';

export interface CommissioningRecord {
  at: string;
  topic: string;
  /** event type or topic kind (telemetry, status) */
  what: string;
  code?: ErrorCode;
  reason?: string;
  duplicate?: boolean;
  /** first bytes of the payload as text, so an installer can see what the device actually sent */
  excerpt: string;
}

/** A record as the store keeps it: `at` in epoch ms, like every time in the store (store/tables.ts). */
type StoredRecord = Omit<CommissioningRecord, 'at'> & { at: number };

const stored = (r: CommissioningRecord): StoredRecord => ({ ...r, at: Date.parse(r.at) });
const shown = (r: StoredRecord): CommissioningRecord => ({ ...r, at: isoText(r.at) });

const KEEP = 10;
const EXCERPT_BYTES = 300;

interface Entry {
  accepted: CommissioningRecord[];
  rejected: CommissioningRecord[];
  dirty: boolean;
  /** the stored records, read once and appended behind what arrived meanwhile */
  loaded: Promise<void>;
}

/**
 * The installer's view of a device: its last accepted and last rejected messages with reasons.
 * Kept in memory on the hot path and written to the store in batches (and at stop), so a flood of
 * bad messages costs no disk write each. A device's stored records are read once, in the
 * background (one indexed read per device on either store dialect); a view and a flush wait for it.
 */
export class CommissioningLog {
  private readonly entries = new Map<string, Entry>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    private readonly flushMs = 2000,
  ) {}

  static excerpt(payload: Buffer): string {
    const text = payload.subarray(0, EXCERPT_BYTES).toString('utf8');
    return payload.length > EXCERPT_BYTES ? `${text}… (${payload.length} bytes)` : text;
  }

  private async load(deviceId: string, e: Entry): Promise<void> {
    try {
      const row = await this.store.db
        .selectFrom('device_commissioning')
        .select(['accepted', 'rejected'])
        .where('device_id', '=', deviceId)
        .executeTakeFirst();
      if (!row) return;
      const read = (text: string) => (JSON.parse(text) as StoredRecord[]).map(shown);
      e.accepted = [...e.accepted, ...read(row.accepted)].slice(0, KEEP);
      e.rejected = [...e.rejected, ...read(row.rejected)].slice(0, KEEP);
    } catch (err) {
      this.logger.error({ err, deviceId }, 'commissioning records not read');
    }
  }

  /** The device's entry; its stored records are read the first time. */
  private entry(deviceId: string): Entry {
    let e = this.entries.get(deviceId);
    if (!e) {
      const fresh: Entry = { accepted: [], rejected: [], dirty: false, loaded: Promise.resolve() };
      fresh.loaded = this.load(deviceId, fresh);
      this.entries.set(deviceId, fresh);
      e = fresh;
    }
    return e;
  }

  record(deviceId: string, outcome: 'accepted' | 'rejected', record: CommissioningRecord): void {
    const e = this.entry(deviceId);
    const list = e[outcome];
    list.unshift(record);
    if (list.length > KEEP) list.length = KEEP;
    e.dirty = true;
  }

  async view(
    deviceId: string,
  ): Promise<{ accepted: CommissioningRecord[]; rejected: CommissioningRecord[] }> {
    const e = this.entry(deviceId);
    await e.loaded;
    return { accepted: [...e.accepted], rejected: [...e.rejected] };
  }

  async flush(): Promise<void> {
    const dirty = [...this.entries].filter(([, e]) => e.dirty);
    if (dirty.length === 0) return;
    await Promise.all(dirty.map(([, e]) => e.loaded));
    for (const [, e] of dirty) e.dirty = false;
    const now = Date.now();
    try {
      await this.store.db.transaction().execute(async (trx) => {
        for (const [deviceId, e] of dirty) {
          const values = {
            accepted: JSON.stringify(e.accepted.map(stored)),
            rejected: JSON.stringify(e.rejected.map(stored)),
            updated_at: now,
          };
          await trx
            .insertInto('device_commissioning')
            .values({ device_id: deviceId, ...values })
            .onConflict((oc) => oc.column('device_id').doUpdateSet(values))
            .execute();
        }
      });
    } catch (err) {
      for (const [, e] of dirty) e.dirty = true;
      this.logger.error({ err }, 'commissioning flush failed');
    }
  }

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.flushMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
