/**
 * A token bucket per connection: `ratePerSecond` sustained, `burst` at once. `take()` says how long
 * to wait before the message may be processed; the broker holds the message that long, which keeps
 * the connection's socket unread (back-pressure) instead of buffering the flood in the hub.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.last = now();
  }

  /** Reserve one token; returns 0 when available now, else the milliseconds until it will be. */
  take(): number {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond);
    this.last = now;
    this.tokens -= 1;
    if (this.tokens >= 0) return 0;
    return Math.ceil((-this.tokens / this.ratePerSecond) * 1000);
  }
}
