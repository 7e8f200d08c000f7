/**
 * A bounded first-in-first-out queue that makes room by dropping its oldest entry: a ring buffer,
 * so taking from the front is O(1) (Array#shift is O(n) once an array is large, which is what the
 * queue is for).
 */
export class DropOldestQueue<T> {
  private readonly items: (T | undefined)[];
  private head = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    this.items = new Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  /** Add at the back; when full, the oldest entry is removed to make room and returned. */
  push(item: T): T | undefined {
    let dropped: T | undefined;
    if (this.count === this.capacity) dropped = this.shift();
    this.items[(this.head + this.count) % this.capacity] = item;
    this.count++;
    return dropped;
  }

  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.count--;
    return item;
  }

  clear(): number {
    const n = this.count;
    this.items.fill(undefined);
    this.head = 0;
    this.count = 0;
    return n;
  }
}
