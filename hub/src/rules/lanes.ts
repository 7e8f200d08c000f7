/** The two lanes of rules work (DESIGN.md "Guarantees on a bad day"). */
export type Lane = 'life-safety' | 'ordinary';

/**
 * Queues of rules work: life-safety items first, round-robin across devices (one device raising a
 * thousand alarms cannot hold back another's first), then ordinary items in arrival order.
 */
export class LaneQueue<T extends { lane: Lane; key: string }> {
  /** per device, in arrival order; Map order is the round-robin order */
  private readonly urgent = new Map<string, T[]>();
  private urgentCount = 0;
  private ordinary: T[] = [];
  private head = 0;

  push(item: T): void {
    if (item.lane === 'life-safety') {
      const list = this.urgent.get(item.key);
      if (list) list.push(item);
      else this.urgent.set(item.key, [item]);
      this.urgentCount++;
      return;
    }
    this.ordinary.push(item);
  }

  shift(): T | undefined {
    for (const [key, list] of this.urgent) {
      const item = list.shift() as T;
      this.urgent.delete(key);
      // Back of the round: the next device with alarms goes first next time.
      if (list.length > 0) this.urgent.set(key, list);
      this.urgentCount--;
      return item;
    }
    if (this.head >= this.ordinary.length) return undefined;
    const item = this.ordinary[this.head] as T;
    this.ordinary[this.head] = undefined as unknown as T;
    this.head++;
    // Compact now and then: an index, not Array.shift(), keeps a long backlog O(1) per item.
    if (this.head > 1024 && this.head * 2 > this.ordinary.length) {
      this.ordinary = this.ordinary.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  hasLifeSafety(key: string): boolean {
    return this.urgent.has(key);
  }

  /** Remove (and return) queued items matching `pred`. */
  drop(pred: (item: T) => boolean): T[] {
    const out: T[] = [];
    for (const [key, list] of this.urgent) {
      const keep = list.filter((i) => !pred(i));
      out.push(...list.filter(pred));
      if (keep.length > 0) this.urgent.set(key, keep);
      else this.urgent.delete(key);
    }
    const rest = this.ordinary.slice(this.head);
    this.ordinary = rest.filter((i) => !pred(i));
    out.push(...rest.filter(pred));
    this.head = 0;
    this.urgentCount = [...this.urgent.values()].reduce((n, l) => n + l.length, 0);
    return out;
  }

  get lifeSafetySize(): number {
    return this.urgentCount;
  }

  get ordinarySize(): number {
    return this.ordinary.length - this.head;
  }

  get size(): number {
    return this.urgentCount + this.ordinarySize;
  }
}
