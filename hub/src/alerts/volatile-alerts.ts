import type { AlertRow } from '../store/tables.ts';

import type { HeldDeliveryEntry } from './person-channel.ts';

/** A delivery attempt made while the alert could not be stored, written when storage returns. */
export type HeldDelivery = HeldDeliveryEntry;

interface Held {
  row: AlertRow;
  /** the device events it absorbed (`deviceId:eventId`) */
  events: Set<string>;
  deliveries: HeldDelivery[];
}

/**
 * Alerts raised while the disk refused writes (DESIGN.md: "alerts keep flowing from memory"). They
 * are delivered, re-notified and escalated from here exactly like stored ones, can be acknowledged,
 * and are written to the store — with their delivery log — as soon as it takes writes again. When
 * the rules run again on the same event after recovery, the alert is found here by the event, so
 * nobody is paged twice for one press.
 */
export class VolatileAlerts {
  private readonly byId = new Map<string, Held>();

  get size(): number {
    return this.byId.size;
  }

  add(row: AlertRow, eventRef: string | null): void {
    this.byId.set(row.id, { row, events: new Set(eventRef ? [eventRef] : []), deliveries: [] });
  }

  get(id: string): AlertRow | undefined {
    return this.byId.get(id)?.row;
  }

  update(id: string, changes: Partial<AlertRow>): AlertRow | undefined {
    const held = this.byId.get(id);
    if (!held) return undefined;
    held.row = { ...held.row, ...changes };
    return held.row;
  }

  /** The held alert that absorbed this event, or the active one of this incident. */
  find(eventRef: string | null, incidentKey: string): AlertRow | undefined {
    for (const h of this.byId.values()) {
      if (eventRef && h.events.has(eventRef)) return h.row;
    }
    for (const h of this.byId.values()) {
      if (h.row.incident_key === incidentKey && h.row.state !== 'resolved') return h.row;
    }
    return undefined;
  }

  absorbed(id: string, eventRef: string | null): boolean {
    return eventRef !== null && this.byId.get(id)?.events.has(eventRef) === true;
  }

  addEvent(id: string, eventRef: string | null): void {
    if (eventRef) this.byId.get(id)?.events.add(eventRef);
  }

  logDelivery(d: HeldDelivery): boolean {
    const held = this.byId.get(d.alert_id);
    if (!held) return false;
    held.deliveries.push(d);
    return true;
  }

  all(): AlertRow[] {
    return [...this.byId.values()].map((h) => h.row);
  }

  /** Everything held, for writing to the store; `forget` once it is written. */
  entries(): { row: AlertRow; events: string[]; deliveries: HeldDelivery[] }[] {
    return [...this.byId.values()].map((h) => ({
      row: h.row,
      events: [...h.events],
      deliveries: h.deliveries,
    }));
  }

  forget(id: string): void {
    this.byId.delete(id);
  }
}
