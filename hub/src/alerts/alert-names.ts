import type { Kysely } from 'kysely';
import type { AlertRequested } from '../bus.ts';
import { lookupNames, type Names } from '../grid/names.ts';
import type { Database } from '../store/tables.ts';
import type { AlertView, DeliveryView } from './alert-schemas.ts';

/** The stored title of a requested alert: the text, and the code the console renders. */
export function storedTitle(req: Pick<AlertRequested, 'title' | 'titleCode' | 'titleParams'>) {
  return {
    title: req.title,
    title_code: req.titleCode ?? null,
    title_params: req.titleCode ? JSON.stringify(req.titleParams ?? {}) : null,
  };
}

const personOf = (actor: string | null) => (actor?.startsWith('person:') ? actor.slice(7) : null);

function withNames(a: AlertView, names: Names): AlertView {
  return {
    ...a,
    deviceName: names.get('device', a.deviceId),
    siteName: names.get('site', a.siteId),
    gridNodeName: names.get('gridNode', a.gridNodeId),
    emergencyUnitName: names.get('unit', a.emergencyUnitId),
    chainNames: a.chain.map((p) => names.get('person', p)),
    ackedByName: names.actor(a.ackedBy),
    resolvedByName: names.actor(a.resolvedBy),
  };
}

function lookup(db: Kysely<Database>, alerts: AlertView[], people: string[] = [], webhooks: string[] = []) {
  return lookupNames(db, {
    device: alerts.map((a) => a.deviceId),
    site: alerts.map((a) => a.siteId),
    gridNode: alerts.map((a) => a.gridNodeId),
    unit: alerts.map((a) => a.emergencyUnitId),
    person: [...alerts.flatMap((a) => [...a.chain, personOf(a.ackedBy), personOf(a.resolvedBy)]), ...people],
    webhook: webhooks,
  });
}

/** Alerts with names beside their ids (API responses and the console's stream), in one lookup. */
export async function nameAlerts(db: Kysely<Database>, alerts: AlertView[]): Promise<AlertView[]> {
  const names = await lookup(db, alerts);
  return alerts.map((a) => withNames(a, names));
}

/** One alert and its delivery log, named: recipients are people or webhook targets. */
export async function nameDeliveries(
  db: Kysely<Database>,
  alert: AlertView,
  deliveries: DeliveryView[],
): Promise<{ alert: AlertView; deliveries: DeliveryView[] }> {
  const recipients = deliveries.map((d) => d.recipient);
  const names = await lookup(db, [alert], recipients, recipients);
  return {
    alert: withNames(alert, names),
    deliveries: deliveries.map((d) => ({
      ...d,
      recipientName: names.get('person', d.recipient) ?? names.get('webhook', d.recipient),
    })),
  };
}
