import { chainEntries, GENESIS_HASH } from '../hub/src/audit/audit-log.ts';
import type { Hub } from '../hub/src/hub.ts';

/** Devices, alerts and tickets written straight into SQLite: the fleet a city collects over years. */
export function seedFleet(
  hub: Hub,
  {
    devices: DEVICES,
    alerts: ALERTS,
    tickets: TICKETS,
    auditEntries,
  }: { devices: number; alerts: number; tickets: number; auditEntries: number },
): void {
  const db = hub.store.sqlite;
  const micro = db
    .prepare('SELECT g.id, g.path, s.id AS site FROM sites s JOIN grid_nodes g ON g.id = s.grid_node_id')
    .all() as { id: string; path: string; site: string }[];
  const now = Date.now();
  const iso = now - 60_000;
  // One device in fifty went silent three days ago: the restart's sweep takes them offline.
  const silent = now - 3 * 86_400_000;
  const insertDevice = db.prepare(
    `INSERT INTO devices (id, model_id, type, name, site_id, grid_node_id, status, secret_hash,
       secret_rotated_at, installed_by, installed_at, last_seen_at, online, created_at, updated_at)
     VALUES (?, 'generic-nb-smoke', 'smoke-detector', ?, ?, ?, 'active', 'x', ?, 'bench', ?, ?, 1, ?, ?)`,
  );
  const insertAlert = db.prepare(
    `INSERT INTO alerts (id, incident_key, severity, cause, title, device_id, device_type, site_id,
       grid_node_id, grid_path, emergency_unit_id, state, chain, acked_by, acked_at, resolved_at,
       resolution, created_at, updated_at)
     VALUES (?, ?, ?, 'smoke.alarm', 'bench', ?, 'smoke-detector', ?, ?, ?, NULL, 'resolved', '[]', ?, ?, ?,
       'resolved', ?, ?)`,
  );
  const insertTicket = db.prepare(
    `INSERT INTO tickets (id, category, source, severity, level, state, title, grid_node_id, site_id,
       device_id, created_at, updated_at, accepted_at, closed_at, due_at, satisfaction, rework_count)
     VALUES (?, 'fire', 'device-rule', 'major', ?, ?, 'bench', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  db.transaction(() => {
    for (let i = 0; i < DEVICES; i++) {
      const at = micro[i % micro.length] as { id: string; path: string; site: string };
      insertDevice.run(
        `bd-${i}`,
        `烟感 ${i}`,
        at.site,
        at.id,
        iso,
        iso,
        i % 50 === 0 ? silent : iso,
        iso,
        iso,
      );
    }
    for (let i = 0; i < ALERTS; i++) {
      const at = micro[i % micro.length] as { id: string; path: string; site: string };
      const created = now - (ALERTS - i) * 60_000;
      const acked = i % 3 === 0 ? null : created + (i % 300) * 1000;
      insertAlert.run(
        `ba-${i}`,
        `bench:${i}`,
        i % 5 === 0 ? 'critical' : 'major',
        `bd-${i % DEVICES}`,
        at.site,
        at.id,
        at.path,
        acked ? 'p-admin' : null,
        acked,
        created + 3_600_000,
        created,
        created,
      );
    }
    for (let i = 0; i < TICKETS; i++) {
      const at = micro[i % micro.length] as { id: string; path: string; site: string };
      const created = now - (TICKETS - i) * 60_000;
      const closed = i % 4 === 0 ? null : created + (i % 500) * 60_000;
      insertTicket.run(
        `bt-${i}`,
        1 + (i % 4),
        closed ? 'closed' : 'accepted',
        at.id,
        at.site,
        `bd-${i % DEVICES}`,
        created,
        created,
        created + 60_000,
        closed,
        created + 240 * 60_000,
        closed && i % 2 ? 5 : null,
        i % 10 === 0 ? 1 : 0,
      );
    }
  })();
  // A long audit chain beside the import's own entries, so verify walks a real chain.
  const last = db.prepare('SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1').get() as
    | { hash: string }
    | undefined;
  const rows = chainEntries(
    last?.hash ?? GENESIS_HASH,
    Array.from({ length: auditEntries }, (_, i) => ({
      actor: 'bench',
      action: 'device.register',
      entityType: 'device',
      entityId: `bd-${i}`,
      data: { i },
    })),
  );
  const insertAudit = db.prepare(
    `INSERT INTO audit_log (at, actor, action, entity_type, entity_id, data, prev_hash, hash)
     VALUES (@at, @actor, @action, @entity_type, @entity_id, @data, @prev_hash, @hash)`,
  );
  db.transaction(() => {
    for (const r of rows) insertAudit.run(r);
  })();
}
