import type { AlertChanged, Bus } from '../bus.ts';

const KEPT = 1000;

/**
 * The alert changes the console's stream (SSE, GET /api/v1/alerts/stream) sends, taken from the bus:
 * the last 1,000 are kept so a console reconnecting with Last-Event-ID gets what it missed. Each
 * change carries its delivery scope, so a stream filters by what the change says, not by the store.
 */
export class AlertStream {
  private readonly changes: AlertChanged[] = [];
  private readonly listeners = new Set<(c: AlertChanged) => void>();
  private off: (() => void) | undefined;
  /**
   * Cluster mode (issue 19): changes come from the cluster relay, numbered cluster-wide, through
   * `accept()`; this node's own changes reach it the same way (cluster/event-relay.ts).
   */
  fromCluster = false;

  constructor(private readonly bus: Bus) {}

  /** Changes after `seq` still kept, oldest first. */
  since(seq: number): AlertChanged[] {
    return this.changes.filter((c) => c.seq > seq);
  }

  subscribe(listener: (c: AlertChanged) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async start(): Promise<void> {
    if (!this.fromCluster) this.off = this.bus.on('alert.changed', (c) => this.accept(c));
  }

  /** One change, in order: one already kept (a replayed cluster change) is not sent twice. */
  accept(c: AlertChanged): void {
    const last = this.changes.at(-1);
    if (last && c.seq <= last.seq) return;
    this.changes.push(c);
    if (this.changes.length > KEPT) this.changes.shift();
    for (const l of this.listeners) l(c);
  }

  async stop(): Promise<void> {
    this.off?.();
    this.listeners.clear();
  }
}
