import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { StorageHealth } from '../store/storage-health.ts';
import type {
  AppendResult,
  JournalEntry,
  JournalOp,
  JournalResponse,
  JournalRow,
} from './journal-protocol.ts';

export type { JournalEntry, JournalRow } from './journal-protocol.ts';

/** The outcome of one message's group commit. */
export interface Committed {
  /** position in the journal (null for a duplicate, which is not journaled again) */
  seq: number | null;
  duplicate: boolean;
}

/** A write the journal could not make (disk full, I/O error); the message was not acknowledged. */
export class JournalWriteError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'JournalWriteError';
  }
}

export interface JournalOptions {
  dataDir: string;
  /** bound of the InfluxDB spool (oldest points dropped beyond it, counted) */
  spoolMaxPoints: number;
  /** most messages in one group commit */
  maxBatch: number;
  /** an older install's files whose dedupe records and spool are imported once */
  legacy?: { storeFile: string; spoolFile: string };
  /** the main store's file, checkpointed (and so synced) by the writer thread */
  storeFile?: string;
  /** the local series file and the broker's session file, checkpointed there too (about once a second) */
  seriesFile?: string;
  sessionFile?: string;
}

interface Waiting {
  entry: JournalEntry;
  arrivedAt: number;
  resolve(c: Committed): void;
  reject(err: Error): void;
}

/**
 * The ingest journal (main-thread side). Messages are appended one by one and committed in
 * groups: everything that arrives while a commit is on its way to disk goes into the next one, so
 * a quiet hub commits each message within about a millisecond and a busy one amortises each fsync
 * over hundreds. A message's promise settles when its group is durable; its PUBACK waits for that.
 * Commits are strictly ordered, so sequence numbers follow arrival order.
 */
export class Journal {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly calls = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private queue: Waiting[] = [];
  private inFlight = false;
  private scheduled = false;
  private closing = false;
  private drained: (() => void)[] = [];
  private probeTimer: NodeJS.Timeout | undefined;
  private readonly log: Logger;

  constructor(
    private readonly options: JournalOptions,
    private readonly health: StorageHealth,
    private readonly metrics: Metrics,
    logger: Logger,
  ) {
    this.log = logger;
  }

  get file(): string {
    return join(this.options.dataDir, 'journal.sqlite');
  }

  async start(): Promise<void> {
    this.closing = false;
    const worker = new Worker(new URL('./journal-worker-boot.mjs', import.meta.url), {
      workerData: {
        file: this.file,
        spoolMaxPoints: this.options.spoolMaxPoints,
        legacy: this.options.legacy,
        storeFile: this.options.storeFile,
        seriesFile: this.options.seriesFile,
        sessionFile: this.options.sessionFile,
      },
    });
    this.worker = worker;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      worker.once('error', onError);
      this.calls.set(0, {
        resolve: () => {
          worker.off('error', onError);
          resolve();
        },
        reject,
      });
      worker.on('message', (res: JournalResponse) => this.answer(res));
    });
    worker.on('error', (err) => this.crashed(err));
    worker.on('exit', (code) => {
      if (!this.closing) this.crashed(new Error(`journal writer exited with code ${code}`));
    });
  }

  private answer(res: JournalResponse): void {
    const call = this.calls.get(res.id);
    if (!call) return;
    this.calls.delete(res.id);
    if (res.ok) call.resolve(res.value);
    else call.reject(new JournalWriteError(res.error.code, res.error.message));
  }

  /** The writer thread died: fail what it held (no PUBACK was sent for it) and start a new one. */
  private crashed(err: Error): void {
    this.log.error({ err }, 'journal writer failed; restarting it');
    for (const call of this.calls.values()) call.reject(new JournalWriteError('SQLITE_IOERR', err.message));
    this.calls.clear();
    this.worker = undefined;
    if (this.closing) return;
    setTimeout(() => {
      this.start().then(
        () => this.kick(),
        (e: unknown) => this.log.error({ err: e }, 'journal writer did not restart'),
      );
    }, 1000).unref();
  }

  private call<T>(req: JournalOp): Promise<T> {
    const worker = this.worker;
    if (!worker)
      return Promise.reject(new JournalWriteError('SQLITE_IOERR', 'journal writer is not running'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.calls.set(id, { resolve: resolve as (v: unknown) => void, reject });
      worker.postMessage({ ...req, id });
    });
  }

  /** Append one message; settles when the group it joined is on disk (or failed to get there). */
  append(entry: JournalEntry): Promise<Committed> {
    return new Promise<Committed>((resolve, reject) => {
      this.queue.push({ entry, arrivedAt: Date.now(), resolve, reject });
      this.kick();
    });
  }

  /** Messages waiting for the next group commit (or in the one on its way). */
  get waiting(): number {
    return this.queue.length;
  }

  private kick(): void {
    if (this.inFlight || this.scheduled || this.queue.length === 0 || !this.worker) return;
    // Let every packet of the current socket read join this group before it goes.
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.commit();
    });
  }

  private commit(): void {
    if (this.inFlight || this.queue.length === 0) return;
    const group = this.queue.splice(0, this.options.maxBatch);
    this.inFlight = true;
    this.call<AppendResult>({ op: 'append', entries: group.map((w) => w.entry) }).then(
      (out) => {
        this.health.recovered('journal');
        const now = Date.now();
        group.forEach((w, i) => {
          this.metrics.journalBatch.observe((now - w.arrivedAt) / 1000);
          w.resolve(out.results[i] as Committed);
        });
        const spooled = group.reduce((n, w) => n + w.entry.lines.length, 0);
        if (spooled > 0) this.metrics.seriesPoints.inc({ sink: 'influx', outcome: 'spooled' }, spooled);
        if (out.dropped > 0) this.spoolDropped(out.dropped);
        this.done();
      },
      (err: Error) => {
        if (this.health.failed('journal', err)) this.probeUntilRecovered();
        for (const w of group) w.reject(err);
        this.done();
      },
    );
  }

  private done(): void {
    this.inFlight = false;
    this.kick();
    if (!this.inFlight && !this.scheduled && this.queue.length === 0)
      for (const d of this.drained.splice(0)) d();
  }

  /** While the disk refuses writes, try a tiny one every second; recovery needs no device to send. */
  private probeUntilRecovered(): void {
    if (this.probeTimer) return;
    this.probeTimer = setInterval(() => {
      if (!this.health.isFailing('journal')) {
        clearInterval(this.probeTimer);
        this.probeTimer = undefined;
        return;
      }
      this.call({ op: 'probe' }).then(
        () => this.health.recovered('journal'),
        () => undefined,
      );
    }, 1000);
    this.probeTimer.unref();
  }

  private spoolDropped(n: number): void {
    this.metrics.seriesPoints.inc({ sink: 'influx', outcome: 'dropped-spool-full' }, n);
    this.log.warn(
      { dropped: n, bound: this.options.spoolMaxPoints },
      'time-series spool full: oldest points dropped',
    );
  }

  /** Mark messages done; false when the main store could not be synced first (try again). */
  rulesDone(seqs: number[]): Promise<boolean> {
    return this.call({ op: 'rulesDone', seqs });
  }

  /** Checkpoint (and so sync) the main store from the writer thread; false when it was busy. */
  checkpoint(): Promise<boolean> {
    return this.call({ op: 'checkpoint' });
  }

  /** Journaled messages rules have not finished, oldest first. */
  pending(afterSeq: number, limit: number): Promise<JournalRow[]> {
    return this.call({ op: 'pending', afterSeq, limit });
  }

  /** Every journaled message after `afterSeq` (the local series store's replay). */
  since(afterSeq: number, limit: number): Promise<JournalRow[]> {
    return this.call({ op: 'since', afterSeq, limit });
  }

  /** The most recently recorded event ids, oldest first (to recognise redeliveries after a restart). */
  recentSeen(limit: number): Promise<[string, string][]> {
    return this.call({ op: 'recentSeen', limit });
  }

  lastSeq(): Promise<number> {
    return this.call({ op: 'lastSeq' });
  }

  async spoolAppend(lines: string[]): Promise<void> {
    const dropped = await this.call<number>({ op: 'spoolAppend', lines });
    if (dropped > 0) this.spoolDropped(dropped);
  }

  spoolPeek(limit: number): Promise<{ id: number; line: string }[]> {
    return this.call({ op: 'spoolPeek', limit });
  }

  spoolRemove(ids: number[]): Promise<void> {
    return this.call({ op: 'spoolRemove', ids });
  }

  spoolSize(): Promise<number> {
    return this.call({ op: 'spoolSize' });
  }

  /** Drop inbox rows every consumer has taken, and dedupe records older than the retention. */
  prune(consumedUpTo: number, seenBefore: number): Promise<{ inbox: number; seen: number }> {
    return this.call({ op: 'prune', consumedUpTo, seenBefore, limit: 2000 });
  }

  async stop(): Promise<void> {
    // Let what is queued reach the disk first: those messages still wait for their PUBACK.
    if ((this.queue.length > 0 || this.inFlight || this.scheduled) && this.worker)
      await new Promise<void>((resolve) => this.drained.push(resolve));
    clearInterval(this.probeTimer);
    this.probeTimer = undefined;
    this.closing = true;
    const worker = this.worker;
    if (!worker) return;
    await this.call({ op: 'close' }).catch(() => undefined);
    await worker.terminate();
    this.worker = undefined;
  }
}
