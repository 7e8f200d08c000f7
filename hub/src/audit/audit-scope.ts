import { actorOf, covers, type Placement, type Principal } from '../auth/principal.ts';
import { placeTargetScope } from '../grid/placement.ts';
import type { Db } from '../store/store.ts';
import type { AuditRow } from '../store/tables.ts';

/**
 * Which audit entries a caller may read (issue 14): those about things inside their jurisdiction,
 * and their own actions. An entry is placed by what it is about — a device, ticket, alert, site,
 * grid node, unit, person, webhook, policy or notification — looked up when it is read, so no
 * writer of the log has to know about scopes. What cannot be placed (a deleted webhook without its
 * scope, an unknown kind) is for admins only. Global policy changes concern everyone and are shown.
 */
export type AuditFilter = (row: AuditRow) => Promise<boolean>;

type Where = Placement | 'everyone' | undefined;

export function auditFilter(db: Db, principal: Principal): AuditFilter {
  if (principal.jurisdiction.kind === 'all') return async () => true;
  const j = principal.jurisdiction;
  const me = actorOf(principal);
  const cache = new Map<string, Promise<Where[]>>();

  const node = async (id: string | null | undefined): Promise<Where> => {
    if (!id) return undefined;
    const n = await db.selectFrom('grid_nodes').select('path').where('id', '=', id).executeTakeFirst();
    return n ? { gridPath: n.path } : undefined;
  };
  const site = async (id: string): Promise<Where> => {
    const s = await db
      .selectFrom('sites')
      .innerJoin('grid_nodes', 'grid_nodes.id', 'sites.grid_node_id')
      .select('grid_nodes.path')
      .where('sites.id', '=', id)
      .executeTakeFirst();
    return s ? { gridPath: s.path, siteId: id } : undefined;
  };
  const device = async (id: string): Promise<Where> => {
    const d = await db
      .selectFrom('devices')
      .innerJoin('grid_nodes', 'grid_nodes.id', 'devices.grid_node_id')
      .select(['grid_nodes.path', 'devices.site_id'])
      .where('devices.id', '=', id)
      .executeTakeFirst();
    return d ? { gridPath: d.path, siteId: d.site_id } : undefined;
  };
  const person = async (id: string): Promise<Where[]> => {
    const p = await db
      .selectFrom('people')
      .select(['scope_grid_node_id', 'scope_site_ids'])
      .where('id', '=', id)
      .executeTakeFirst();
    if (!p) return [];
    if (p.scope_grid_node_id) return [await node(p.scope_grid_node_id)];
    return Promise.all((JSON.parse(p.scope_site_ids) as string[]).map(site));
  };
  const scoped = async (scope: unknown): Promise<Where[]> => {
    const s = scope as { kind?: string; id?: string } | null | undefined;
    if (!s?.kind || !s.id) return [];
    if (s.kind === 'global' || s.kind === 'device-type') return ['everyone'];
    if (s.kind === 'grid') return [await node(s.id)];
    if (s.kind === 'site') return [await site(s.id)];
    if (s.kind === 'device') return [await device(s.id)];
    const t = await placeTargetScope(db, s.kind, s.id).catch(() => undefined);
    return t ? [{ gridPath: t.gridPath }] : [];
  };

  const place = async (row: AuditRow): Promise<Where[]> => {
    const id = row.entity_id;
    const data = JSON.parse(row.data) as { scope?: unknown; to?: { kind?: string; id?: string } } | null;
    switch (row.entity_type) {
      case 'device':
        return [await device(id)];
      case 'site':
        return [await site(id)];
      case 'grid-node':
        return [await node(id)];
      case 'person':
        return person(id);
      case 'department': {
        const d = await db
          .selectFrom('departments')
          .select('district_id')
          .where('id', '=', id)
          .executeTakeFirst();
        return [await node(d?.district_id)];
      }
      case 'emergency-unit': {
        const u = await db
          .selectFrom('emergency_units')
          .select('grid_node_id')
          .where('id', '=', id)
          .executeTakeFirst();
        return [await node(u?.grid_node_id)];
      }
      case 'ticket': {
        const t = await db
          .selectFrom('tickets')
          .innerJoin('grid_nodes', 'grid_nodes.id', 'tickets.grid_node_id')
          .select(['grid_nodes.path', 'tickets.site_id'])
          .where('tickets.id', '=', id)
          .executeTakeFirst();
        return [t ? { gridPath: t.path, siteId: t.site_id } : undefined];
      }
      case 'alert': {
        const a = await db
          .selectFrom('alerts')
          .select(['grid_path', 'site_id'])
          .where('id', '=', id)
          .executeTakeFirst();
        return [a ? { gridPath: a.grid_path, siteId: a.site_id } : undefined];
      }
      case 'policy':
        return scoped(data?.scope);
      case 'webhook': {
        if (data?.scope) return scoped(data.scope);
        const w = await db
          .selectFrom('webhook_targets')
          .select(['scope_kind', 'scope_id'])
          .where('id', '=', id)
          .executeTakeFirst();
        return w ? scoped({ kind: w.scope_kind, id: w.scope_id }) : [];
      }
      case 'notification': {
        const to = data?.to;
        if (to?.kind === 'person' && to.id) return person(to.id);
        if (to?.kind === 'webhook' && to.id) {
          const w = await db
            .selectFrom('webhook_targets')
            .select(['scope_kind', 'scope_id'])
            .where('id', '=', to.id)
            .executeTakeFirst();
          return w ? scoped({ kind: w.scope_kind, id: w.scope_id }) : [];
        }
        return [];
      }
      default:
        return [];
    }
  };

  return async (row) => {
    if (row.actor === me) return true;
    // Entries placed by their data (a policy's scope) are cached per data as well.
    const byData = ['policy', 'webhook', 'notification'].includes(row.entity_type);
    const key = `${row.entity_type}\u0000${row.entity_id}\u0000${byData ? row.data : ''}`;
    let where = cache.get(key);
    if (!where) {
      where = place(row);
      cache.set(key, where);
    }
    return (await where).some((w) => w === 'everyone' || (w !== undefined && covers(j, w)));
  };
}

/** What only admins read in an entry: the address a sign-in came from. */
export function redactAuditData(action: string, data: unknown, principal: Principal): unknown {
  if (principal.roles.includes('admin')) return data;
  if (action === 'session.login' && data && typeof data === 'object' && 'from' in data) {
    const { from: _, ...rest } = data as Record<string, unknown>;
    return rest;
  }
  return data;
}
