import type { Committed } from './journal.ts';

/**
 * The event ids this process accepted most recently, with the commit each is waiting for. A QoS 1
 * redelivery (the device did not see its PUBACK in time) is recognised here without a trip to the
 * journal, and is acknowledged when the first copy is durable. Bounded: the oldest are forgotten,
 * and the journal's dedupe record still catches those.
 */
export class RecentEvents {
  private readonly map = new Map<string, Promise<Committed>>();

  constructor(private readonly capacity: number) {}

  private key(deviceId: string, eventId: string): string {
    return `${deviceId}\u0000${eventId}`;
  }

  get(deviceId: string, eventId: string): Promise<Committed> | undefined {
    return this.map.get(this.key(deviceId, eventId));
  }

  add(deviceId: string, eventId: string, committed: Promise<Committed>): void {
    this.map.set(this.key(deviceId, eventId), committed);
    if (this.map.size > this.capacity) {
      const oldest = this.map.keys().next().value as string;
      this.map.delete(oldest);
    }
  }

  delete(deviceId: string, eventId: string | null): void {
    if (eventId !== null) this.map.delete(this.key(deviceId, eventId));
  }
}
