import { type Kysely, sql, type Transaction } from 'kysely';
import { appendAudit } from '../audit/audit-log.ts';
import { newToken, sha256Hex } from '../auth/credentials.ts';
import { actorOf, type Principal, requirePermission, requireScope } from '../auth/principal.ts';
import type { Bus } from '../bus.ts';
import { GridhubError } from '../errors.ts';
import { lookupNames } from '../grid/names.ts';
import { under } from '../grid/placement.ts';
import { eachRange, maxRowid } from '../store/pages.ts';
import type { Db } from '../store/store.ts';
import type { Database, DeviceRow } from '../store/tables.ts';
import { isoText, isoTime } from '../time.ts';
import { timeSlicer } from '../yield.ts';
import { DeviceCsvImport } from './csv-import.ts';
import type {
  CsvImportResult,
  DeviceListQuery,
  DeviceStatus,
  DeviceView,
  RegisterDeviceBody,
} from './device-schemas.ts';
import { normaliseIdentity } from './identities.ts';
import type { ModelCatalogue } from './models/index.ts';
import { type Planned, planRegistration } from './registration-plan.ts';

export type Trx = Transaction<Database> | Kysely<Database>;
export type { Planned } from './registration-plan.ts';

/** Live presence, fresher than the store between its batched writes. */
export interface PresenceReader {
  state(deviceId: string): { online: boolean; lastSeenAt: string | null } | undefined;
  /** write what presence holds, before SQL filters on devices.online */
  flush(): Promise<void>;
}

export function toDeviceView(row: DeviceRow, presence?: PresenceReader): DeviceView {
  const live = presence?.state(row.id);
  return {
    id: row.id,
    model: row.model_id,
    type: row.type as DeviceView['type'],
    name: row.name,
    serial: row.serial,
    siteId: row.site_id,
    gridNodeId: row.grid_node_id,
    emergencyUnitId: row.emergency_unit_id,
    status: row.status as DeviceStatus,
    online: live ? live.online : row.online === 1,
    lastSeenAt: live ? live.lastSeenAt : isoTime(row.last_seen_at),
    imei: row.imei,
    platformDeviceId: row.platform_device_id,
    devEui: row.dev_eui,
    installedBy: row.installed_by,
    installedAt: isoText(row.installed_at),
    installNotes: row.install_notes,
    installPhotoUrl: row.install_photo_url,
    secretRotatedAt: isoText(row.secret_rotated_at),
    createdAt: isoText(row.created_at),
    updatedAt: isoText(row.updated_at),
  };
}

/** Lifecycle moves allowed from each status (DESIGN.md: provisioned → active → maintenance → decommissioned). */
const LIFECYCLE: Record<DeviceStatus, readonly DeviceStatus[]> = {
  provisioned: ['maintenance', 'decommissioned', 'active'],
  active: ['maintenance', 'decommissioned'],
  maintenance: ['active', 'decommissioned'],
  decommissioned: [],
};

/**
 * The installers' device registry. Every change is scoped to the caller's jurisdiction and audited
 * in the same transaction; secrets are returned once and kept only as SHA-256 hashes.
 */
export class DeviceRegistry {
  constructor(
    private readonly db: Db,
    private readonly models: ModelCatalogue,
    private readonly bus: Bus,
    private readonly presence?: PresenceReader,
  ) {}

  private view(row: DeviceRow): DeviceView {
    return toDeviceView(row, this.presence);
  }

  /** Views with the names of their model, site, grid node and unit (one lookup per list). */
  async named(views: DeviceView[]): Promise<DeviceView[]> {
    const names = await lookupNames(this.db, {
      site: views.map((v) => v.siteId),
      gridNode: views.map((v) => v.gridNodeId),
      unit: views.map((v) => v.emergencyUnitId),
    });
    return views.map((v) => {
      const model = this.models.find(v.model);
      return {
        ...v,
        ...(model ? { modelName: model.name } : {}),
        siteName: names.get('site', v.siteId),
        gridNodeName: names.get('gridNode', v.gridNodeId),
        emergencyUnitName: names.get('unit', v.emergencyUnitId),
      };
    });
  }

  /** Resolve model, site, grid node and emergency unit of a registration (registration-plan.ts). */
  plan(
    trx: Trx,
    principal: Principal,
    input: RegisterDeviceBody,
    takenIds: Set<string>,
    memo?: Map<string, Promise<unknown>>,
  ) {
    return planRegistration(trx, this.models, principal, input, takenIds, memo);
  }

  /** (also the CSV import's) */
  async insert(trx: Trx, principal: Principal, p: Planned, input: RegisterDeviceBody): Promise<string> {
    const secret = newToken('ghd');
    const now = Date.now();
    await trx
      .insertInto('devices')
      .values({
        id: p.id,
        model_id: p.modelId,
        type: p.type,
        name: input.name ?? null,
        serial: input.serial ?? null,
        site_id: p.siteId,
        grid_node_id: p.gridNodeId,
        emergency_unit_id: p.emergencyUnitId,
        status: 'provisioned',
        secret_hash: sha256Hex(secret),
        secret_rotated_at: now,
        installed_by: principal.personId,
        installed_at: now,
        install_notes: input.installNotes ?? null,
        install_photo_url: input.installPhotoUrl ?? null,
        last_seen_at: null,
        online: 0,
        imei: input.imei ? normaliseIdentity('imei', input.imei) : null,
        platform_device_id: input.platformDeviceId
          ? normaliseIdentity('platformDeviceId', input.platformDeviceId)
          : null,
        dev_eui: input.devEui ? normaliseIdentity('devEui', input.devEui) : null,
        created_at: now,
        updated_at: now,
      })
      .execute();
    await appendAudit(trx, {
      actor: actorOf(principal),
      action: 'device.register',
      entityType: 'device',
      entityId: p.id,
      data: { model: p.modelId, site: p.siteId, gridNode: p.gridNodeId, emergencyUnit: p.emergencyUnitId },
    });
    return secret;
  }

  async register(
    principal: Principal,
    input: RegisterDeviceBody,
  ): Promise<{ device: DeviceView; secret: string }> {
    requirePermission(principal, 'device:register');
    const { id, secret } = await this.db.transaction().execute(async (trx) => {
      const result = await this.plan(trx, principal, input, new Set());
      const first = result.problems[0];
      if (first || !result.planned) {
        throw new GridhubError(first?.code ?? 'GH_ERR_VALIDATION', first?.reason, {
          problems: result.problems.map(({ field, reason }) => ({ field, reason })),
        });
      }
      return { id: result.planned.id, secret: await this.insert(trx, principal, result.planned, input) };
    });
    const device = await this.getRow(id);
    this.bus.emit('device.changed', { deviceId: id, change: 'registered' });
    return { device: (await this.named([this.view(device)]))[0] as DeviceView, secret };
  }

  /** Bulk registration from CSV (devices/csv-import.ts). */
  importCsv(principal: Principal, csv: string, dryRun: boolean): Promise<CsvImportResult> {
    return new DeviceCsvImport(this.db, this.bus, this).importCsv(principal, csv, dryRun);
  }

  private async getRow(id: string): Promise<DeviceRow> {
    const row = await this.db.selectFrom('devices').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new GridhubError('GH_ERR_DEVICE_UNKNOWN', `no device '${id}'`);
    return row;
  }

  /** A device the principal may see, or 404/403. */
  private async visible(principal: Principal, id: string): Promise<DeviceRow> {
    requirePermission(principal, 'device:read');
    const row = await this.db
      .selectFrom('devices')
      .innerJoin('grid_nodes', 'grid_nodes.id', 'devices.grid_node_id')
      .selectAll('devices')
      .select('grid_nodes.path as grid_path')
      .where('devices.id', '=', id)
      .executeTakeFirst();
    if (!row) throw new GridhubError('GH_ERR_DEVICE_UNKNOWN', `no device '${id}'`);
    requireScope(principal, { gridPath: row.grid_path, siteId: row.site_id }, `device '${id}'`);
    const { grid_path: _, ...device } = row;
    return device;
  }

  async get(principal: Principal, id: string): Promise<DeviceView> {
    return (await this.named([this.view(await this.visible(principal, id))]))[0] as DeviceView;
  }

  async list(principal: Principal, q: DeviceListQuery): Promise<{ total: number; items: DeviceView[] }> {
    requirePermission(principal, 'device:read');
    let query = this.db
      .selectFrom('devices')
      .innerJoin('grid_nodes', 'grid_nodes.id', 'devices.grid_node_id');
    const j = principal.jurisdiction;
    if (j.kind === 'grid') query = query.where(under('grid_nodes.path', j.path));
    if (j.kind === 'sites')
      query = query.where('devices.site_id', 'in', j.siteIds.length > 0 ? j.siteIds : ['\u0000']);
    if (q.grid) {
      const node = await this.db
        .selectFrom('grid_nodes')
        .select('path')
        .where('id', '=', q.grid)
        .executeTakeFirst();
      if (!node) throw new GridhubError('GH_ERR_GRID_NODE_UNKNOWN', `no grid node '${q.grid}'`);
      query = query.where(under('grid_nodes.path', node.path));
    }
    if (q.site) query = query.where('devices.site_id', '=', q.site);
    if (q.type) query = query.where('devices.type', '=', q.type);
    if (q.model) query = query.where('devices.model_id', '=', q.model);
    if (q.status) query = query.where('devices.status', '=', q.status);
    if (q.online !== undefined) {
      // the filter is SQL over devices.online, which trails live presence by one flush
      await this.presence?.flush();
      query = query.where('devices.online', '=', q.online ? 1 : 0);
    }
    // A fleet of 100,000: the count goes a rowid range at a time, and a deep offset is walked to in
    // keyset steps (ids only), each a few milliseconds with yields between, rather than one scan.
    const slice = timeSlicer();
    let total = 0;
    await eachRange(
      await maxRowid(this.db, 'devices'),
      async (lo, hi) => {
        const part = await query
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where(sql<number>`devices.rowid`, '>=', lo)
          .where(sql<number>`devices.rowid`, '<', hi)
          .executeTakeFirstOrThrow();
        total += Number(part.n);
      },
      slice,
    );
    let after: string | undefined;
    for (let skipped = 0; skipped < q.offset; ) {
      const step = Math.min(SKIP_STEP, q.offset - skipped);
      const ids = await (after === undefined ? query : query.where('devices.id', '>', after))
        .select('devices.id')
        .orderBy('devices.id')
        .limit(step)
        .execute();
      skipped += ids.length;
      if (ids.length < step) return { total, items: [] };
      after = (ids[ids.length - 1] as { id: string }).id;
      await slice();
    }
    const rows = await (after === undefined ? query : query.where('devices.id', '>', after))
      .selectAll('devices')
      .orderBy('devices.id')
      .limit(q.limit)
      .execute();
    await slice();
    return { total, items: await this.named(rows.map((r) => this.view(r))) };
  }

  async move(principal: Principal, id: string, siteId: string): Promise<DeviceView> {
    requirePermission(principal, 'device:manage');
    const device = await this.visible(principal, id);
    if (device.status === 'decommissioned')
      throw new GridhubError('GH_ERR_DEVICE_DECOMMISSIONED', `device '${id}' is decommissioned`);
    await this.db.transaction().execute(async (trx) => {
      const result = await this.plan(trx, principal, { model: device.model_id, site: siteId }, new Set([id]));
      const first = result.problems[0];
      if (first || !result.planned) throw new GridhubError(first?.code ?? 'GH_ERR_VALIDATION', first?.reason);
      const { gridNodeId, emergencyUnitId } = result.planned;
      await trx
        .updateTable('devices')
        .set({
          site_id: siteId,
          grid_node_id: gridNodeId,
          emergency_unit_id: emergencyUnitId,
          updated_at: Date.now(),
        })
        .where('id', '=', id)
        .execute();
      await appendAudit(trx, {
        actor: actorOf(principal),
        action: 'device.move',
        entityType: 'device',
        entityId: id,
        data: {
          from: { site: device.site_id, gridNode: device.grid_node_id },
          to: { site: siteId, gridNode: gridNodeId },
        },
      });
    });
    this.bus.emit('device.changed', { deviceId: id, change: 'moved' });
    return this.view(await this.getRow(id));
  }

  async rotateSecret(principal: Principal, id: string): Promise<{ device: DeviceView; secret: string }> {
    requirePermission(principal, 'device:manage');
    const device = await this.visible(principal, id);
    if (device.status === 'decommissioned')
      throw new GridhubError('GH_ERR_DEVICE_DECOMMISSIONED', `device '${id}' is decommissioned`);
    const secret = newToken('ghd');
    await this.db.transaction().execute(async (trx) => {
      const now = Date.now();
      await trx
        .updateTable('devices')
        .set({ secret_hash: sha256Hex(secret), secret_rotated_at: now, updated_at: now })
        .where('id', '=', id)
        .execute();
      await appendAudit(trx, {
        actor: actorOf(principal),
        action: 'device.rotate-secret',
        entityType: 'device',
        entityId: id,
      });
    });
    // The broker drops cached credentials and the live session on this event.
    this.bus.emit('device.changed', { deviceId: id, change: 'credentials' });
    return { device: this.view(await this.getRow(id)), secret };
  }

  async setStatus(
    principal: Principal,
    id: string,
    status: DeviceStatus,
    reason?: string,
  ): Promise<DeviceView> {
    requirePermission(principal, status === 'decommissioned' ? 'device:manage' : 'device:maintenance');
    const device = await this.visible(principal, id);
    const from = device.status as DeviceStatus;
    if (from === status) return this.view(device);
    if (!LIFECYCLE[from].includes(status)) {
      throw new GridhubError('GH_ERR_INVALID_TRANSITION', `a ${from} device cannot become ${status}`);
    }
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('devices').set({ status, updated_at: Date.now() }).where('id', '=', id).execute();
      await appendAudit(trx, {
        actor: actorOf(principal),
        action: `device.${status === 'active' ? 'resume' : status}`,
        entityType: 'device',
        entityId: id,
        data: { from, to: status, reason: reason ?? null },
      });
    });
    this.bus.emit('device.changed', {
      deviceId: id,
      change: status === 'decommissioned' ? 'credentials' : 'status',
    });
    return this.view(await this.getRow(id));
  }
}

/** Devices skipped per step on the way to a list's offset. */
const SKIP_STEP = 2000;
