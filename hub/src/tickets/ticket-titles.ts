import type { Kysely } from 'kysely';
import {
  renderTitle,
  TITLES_ZH,
  type TitleCode,
  type TitleParams,
  type TitleSpec,
} from '../contract/titles.ts';
import { lookupNames, type NameRefs, type Names } from '../grid/names.ts';
import type { Database, TicketRow } from '../store/tables.ts';
import type { TicketView } from './ticket-schemas.ts';

/** The stored form of a title: the Chinese text, and the code with its parameters when a rule gave one. */
export interface StoredTitle {
  title: string;
  title_code: string | null;
  title_params: string | null;
}

/**
 * A rule's title code in Chinese, with the place's names added as parameters (`site`, `device`):
 * names, so a reader sees 1号楼1号梯 rather than a device id; the ids stay on the ticket. A person's
 * typed title is kept as it is.
 */
export async function storeTitle(
  db: Kysely<Database>,
  title: string | TitleSpec,
  place: { gridNodeId: string; siteId: string | null; deviceId: string | null },
): Promise<StoredTitle> {
  if (typeof title === 'string') return { title, title_code: null, title_params: null };
  const names = await lookupNames(db, {
    gridNode: [place.gridNodeId],
    site: [place.siteId],
    device: [place.deviceId],
  });
  const params: TitleParams = {
    site: names.get('site', place.siteId) ?? names.get('gridNode', place.gridNodeId) ?? place.gridNodeId,
    ...(place.deviceId ? { device: names.get('device', place.deviceId) ?? place.deviceId } : {}),
    ...(title.params ?? {}),
  };
  return {
    title: renderTitle(TITLES_ZH, title.code, params) ?? title.code,
    title_code: title.code,
    title_params: JSON.stringify(params),
  };
}

/** The title fields of a view. */
export function titleView(row: Pick<TicketRow, 'title_code' | 'title_params'>): {
  titleCode: TitleCode | null;
  titleParams: TitleParams;
} {
  return {
    titleCode: (row.title_code as TitleCode | null) ?? null,
    titleParams: row.title_params ? (JSON.parse(row.title_params) as TitleParams) : {},
  };
}

/** A ticket's title as an alert request carries it (the alert shows what its ticket says). */
export function ticketTitle(t: Pick<TicketView, 'title' | 'titleCode' | 'titleParams'>) {
  return { title: t.title, titleCode: t.titleCode, titleParams: t.titleParams };
}

/** The ids a list of tickets mentions. */
export function ticketRefs(views: TicketView[]): NameRefs {
  return {
    gridNode: views.map((v) => v.gridNodeId),
    site: views.map((v) => v.siteId),
    device: views.map((v) => v.deviceId),
    unit: views.map((v) => v.emergencyUnitId),
    person: views.map((v) => v.assigneeId),
    department: views.map((v) => v.departmentId),
  };
}

/** Names beside the ids (API responses; the bus and MQTT carry ids only). */
export function withTicketNames(v: TicketView, names: Names): TicketView {
  return {
    ...v,
    gridNodeName: names.get('gridNode', v.gridNodeId),
    siteName: names.get('site', v.siteId),
    deviceName: names.get('device', v.deviceId),
    emergencyUnitName: names.get('unit', v.emergencyUnitId),
    assigneeName: names.get('person', v.assigneeId),
    departmentName: names.get('department', v.departmentId),
  };
}

/** Tickets with their names, in one lookup. */
export async function nameTickets(db: Kysely<Database>, views: TicketView[]): Promise<TicketView[]> {
  const names = await lookupNames(db, ticketRefs(views));
  return views.map((v) => withTicketNames(v, names));
}
