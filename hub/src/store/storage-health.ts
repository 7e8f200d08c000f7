import type { ErrorCode } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';

/**
 * SQLite, PostgreSQL (SQLSTATE) and file-system errors that mean "the store cannot take this
 * write", not "the request is wrong". PostgreSQL: 53100 disk full, 53xxx out of resources; a lost
 * or refused connection (08xxx, 57P0x, ECONNREFUSED …) and a read-only server (25006) or I/O error
 * (58030) are handled like an I/O error: the hub degrades and keeps alerting from memory.
 */
const FULL = new Set(['SQLITE_FULL', 'ENOSPC', 'EDQUOT', '53100']);
const IO =
  /^(SQLITE_IOERR|SQLITE_READONLY|SQLITE_CANTOPEN|SQLITE_CORRUPT|SQLITE_NOTADB|EIO|EROFS|58030|25006|08\d{3}|57P0\d|53\d{3}|ECONNREFUSED|ECONNRESET|ETIMEDOUT)$/;

/** The stable code for a storage error, or undefined when the error is something else. */
export function storageErrorCode(err: unknown): ErrorCode | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return undefined;
  if (FULL.has(code)) return 'GH_ERR_STORAGE_FULL';
  if (IO.test(code)) return 'GH_ERR_STORAGE_IO';
  return undefined;
}

interface Failure {
  code: ErrorCode;
  message: string;
  since: number;
}

/**
 * Whether the hub's disks take writes. Any part whose write fails with a storage error reports it
 * here; the part that owns a file reports success again when a write (or its probe) goes through.
 * `/ready` and `/metrics` read it, so an operator sees "disk full" rather than a dying process.
 */
export class StorageHealth {
  private readonly failures = new Map<string, Failure>();
  private readonly listeners: ((part: string) => void)[] = [];
  private readonly probes = new Map<string, () => void | Promise<void>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {}

  /** Record a failed write if it is a storage error; returns its code (undefined for other errors). */
  failed(part: string, err: unknown): ErrorCode | undefined {
    const code = storageErrorCode(err);
    if (!code) return undefined;
    this.metrics.errors.inc({ code, source: `storage:${part}` });
    if (!this.failures.has(part)) {
      this.failures.set(part, { code, message: (err as Error).message, since: Date.now() });
      this.logger.error({ code, part, err: (err as Error).message }, 'storage write failed; hub degraded');
      this.publish();
    }
    return code;
  }

  recovered(part: string): void {
    const f = this.failures.get(part);
    if (!f) return;
    this.failures.delete(part);
    this.logger.warn({ part, code: f.code, degradedMs: Date.now() - f.since }, 'storage writes work again');
    this.publish();
    for (const l of this.listeners) l(part);
  }

  /**
   * A tiny write that tells whether `part`'s disk takes writes again; run every second while the
   * part is failing, so the hub recovers by itself even when nothing else writes there.
   */
  probe(part: string, write: () => void | Promise<void>): void {
    this.probes.set(part, write);
  }

  start(): void {
    this.timer = setInterval(() => {
      for (const part of [...this.failures.keys()]) {
        const write = this.probes.get(part);
        if (!write) continue;
        Promise.resolve()
          .then(write)
          .then(
            () => this.recovered(part),
            () => undefined,
          );
      }
    }, 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Called when a part's writes work again (the rules engine re-runs what waited for the disk). */
  onRecovered(listener: (part: string) => void): void {
    this.listeners.push(listener);
  }

  get healthy(): boolean {
    return this.failures.size === 0;
  }

  isFailing(part: string): boolean {
    return this.failures.has(part);
  }

  /** For /ready: the first failing part's code and message. */
  get problem(): { code: ErrorCode; part: string; message: string } | undefined {
    for (const [part, f] of this.failures) return { code: f.code, part, message: f.message };
    return undefined;
  }

  private publish(): void {
    this.metrics.storageDegraded.set(this.failures.size > 0 ? 1 : 0);
  }
}
