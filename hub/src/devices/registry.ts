import { randomBytes } from 'node:crypto';
import { parse as parseCsvStream } from 'csv-parse';
import type { Kysely, Transaction } from 'kysely';
import { appendAudit } from '../audit/audit-log.ts';
import { newToken, sha256Hex } from '../auth/credentials.ts';
import { actorOf, covers, type Principal, requirePermission, requireScope } from '../auth/principal.ts';
import type { Bus } from '../bus.ts';
import { DEVICE_TYPE_RECORDS } from '../contract/device-types.ts';
import { type ErrorCode, GridhubError } from '../errors.ts';
import { lookupNames } from '../grid/names.ts';
import { under } from '../grid/placement.ts';
import type { Db } from '../store/store.ts';
import type { Database, DeviceRow } from '../store/tables.ts';
import { timeSlicer } from '../yield.ts';
import {
  CSV_COLUMNS,
  CSV_REQUIRED,
  type CsvImportResult,
  type CsvProblem,
  type DeviceListQuery,
  type DeviceStatus,
  type DeviceView,
  type RegisterDeviceBody,
} from './device-schemas.ts';
import { IDENTITY_FIELDS, identityProblems, normaliseIdentity } from './identities.ts';
import type { ModelCatalogue } from './models/index.ts';

type Trx = Transaction<Database> | Kysely<Database>;

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** Live presence, fresher than the store between its batched writes. */
export interface PresenceReader {
  state(deviceId: string): { online: boolean; lastSeenAt: string | null } | undefined;
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
    lastSeenAt: live ? live.lastSeenAt : row.last_seen_at,
    imei: row.imei,
    platformDeviceId: row.platform_device_id,
    devEui: row.dev_eui,
    installedBy: row.installed_by,
    installedAt: row.installed_at,
    installNotes: row.install_notes,
    installPhotoUrl: row.install_photo_url,
    secretRotatedAt: row.secret_rotated_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** A problem with one field of a registration, in terms both the API and the CSV report use. */
interface FieldProblem {
  field: string;
  code: ErrorCode;
  reason: string;
}

interface Planned {
  id: string;
  modelId: string;
  type: string;
  siteId: string;
  gridNodeId: string;
  emergencyUnitId: string | null;
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

  /** Resolve model, site, grid node and emergency unit of a registration; every problem is listed. */
  private async plan(trx: Trx, principal: Principal, input: RegisterDeviceBody, takenIds: Set<string>) {
    const problems: FieldProblem[] = [];
    const model = this.models.find(input.model);
    if (!model)
      problems.push({
        field: 'model',
        code: 'GH_ERR_MODEL_UNKNOWN',
        reason: `unknown model '${input.model}'`,
      });

    let id = input.id;
    if (id !== undefined) {
      if (!ID_PATTERN.test(id))
        problems.push({ field: 'id', code: 'GH_ERR_VALIDATION', reason: `invalid id '${id}'` });
      else if (takenIds.has(id))
        problems.push({ field: 'id', code: 'GH_ERR_CONFLICT', reason: `id '${id}' appears twice` });
      else if (await trx.selectFrom('devices').select('id').where('id', '=', id).executeTakeFirst()) {
        problems.push({ field: 'id', code: 'GH_ERR_CONFLICT', reason: `device '${id}' already exists` });
      }
    }

    problems.push(...(await identityProblems(trx, input, takenIds)));

    const site = await trx
      .selectFrom('sites')
      .innerJoin('grid_nodes', 'grid_nodes.id', 'sites.grid_node_id')
      .select(['sites.id', 'sites.grid_node_id', 'grid_nodes.path'])
      .where('sites.id', '=', input.site)
      .executeTakeFirst();
    let gridNodeId = site?.grid_node_id;
    let emergencyUnitId: string | null = null;
    if (!site) {
      problems.push({ field: 'site', code: 'GH_ERR_SITE_UNKNOWN', reason: `unknown site '${input.site}'` });
    } else if (!covers(principal.jurisdiction, { gridPath: site.path, siteId: site.id })) {
      problems.push({
        field: 'site',
        code: 'GH_ERR_FORBIDDEN_SCOPE',
        reason: `site '${site.id}' is outside your jurisdiction`,
      });
    } else {
      if (input.gridNode !== undefined && input.gridNode !== site.grid_node_id) {
        // A device may be bound to a coarser grid than its site's (an ancestor), never to an unrelated
        // one: a device wired to the wrong grid is exactly what installers must never suffer.
        const given = await trx
          .selectFrom('grid_nodes')
          .select('path')
          .where('id', '=', input.gridNode)
          .executeTakeFirst();
        if (!given)
          problems.push({
            field: 'gridNode',
            code: 'GH_ERR_GRID_NODE_UNKNOWN',
            reason: `unknown grid node '${input.gridNode}'`,
          });
        else if (
          !site.path.startsWith(given.path) ||
          !covers(principal.jurisdiction, { gridPath: given.path })
        ) {
          problems.push({
            field: 'gridNode',
            code: 'GH_ERR_VALIDATION',
            reason: `grid node '${input.gridNode}' does not contain site '${site.id}' within your jurisdiction`,
          });
        } else gridNodeId = input.gridNode;
      }
      const covering = await trx
        .selectFrom('emergency_unit_sites')
        .select('unit_id')
        .where('site_id', '=', site.id)
        .executeTakeFirst();
      if (input.emergencyUnit !== undefined) {
        const unit = await trx
          .selectFrom('emergency_units')
          .innerJoin('grid_nodes', 'grid_nodes.id', 'emergency_units.grid_node_id')
          .select(['emergency_units.id', 'grid_nodes.path'])
          .where('emergency_units.id', '=', input.emergencyUnit)
          .executeTakeFirst();
        // The unit is who gets paged: it must be the site's own, or one in the caller's
        // jurisdiction whose grid contains the site — never another street's leaders.
        const own = unit !== undefined && covering?.unit_id === unit.id;
        if (!unit) {
          problems.push({
            field: 'emergencyUnit',
            code: 'GH_ERR_EMERGENCY_UNIT_UNKNOWN',
            reason: `unknown emergency unit '${input.emergencyUnit}'`,
          });
        } else if (!own && !covers(principal.jurisdiction, { gridPath: unit.path })) {
          problems.push({
            field: 'emergencyUnit',
            code: 'GH_ERR_FORBIDDEN_SCOPE',
            reason: `emergency unit '${unit.id}' is outside your jurisdiction`,
          });
        } else if (!own && !site.path.startsWith(unit.path)) {
          problems.push({
            field: 'emergencyUnit',
            code: 'GH_ERR_VALIDATION',
            reason: `emergency unit '${unit.id}' neither covers site '${site.id}' nor contains its grid`,
          });
        } else emergencyUnitId = unit.id;
      } else {
        emergencyUnitId = covering?.unit_id ?? null;
      }
    }
    if (problems.length > 0 || !model || !site || !gridNodeId) return { problems } as const;
    id ??= `${DEVICE_TYPE_RECORDS[model.type].idPrefix}-${randomBytes(6).toString('hex')}`;
    takenIds.add(id);
    const planned: Planned = {
      id,
      modelId: model.id,
      type: model.type,
      siteId: site.id,
      gridNodeId,
      emergencyUnitId,
    };
    return { problems, planned } as const;
  }

  private async insert(
    trx: Trx,
    principal: Principal,
    p: Planned,
    input: RegisterDeviceBody,
  ): Promise<string> {
    const secret = newToken('ghd');
    const now = new Date().toISOString();
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

  /**
   * Bulk registration from CSV (columns in CSV_COLUMNS, header required). A dry run reports every
   * bad row and writes nothing. A real import writes nothing unless every row is good, and then all
   * rows: planned first (outside any transaction), written in short transactions of CSV_CHUNK rows;
   * if a write fails part-way (a full disk, a device registered meanwhile), the rows already written
   * are removed again. Every loop yields to the event loop every few milliseconds, so a 200,000-row
   * file never holds back an alarm (DESIGN.md: nothing blocks the event loop for more than 50 ms).
   */
  async importCsv(principal: Principal, csv: string, dryRun: boolean): Promise<CsvImportResult> {
    requirePermission(principal, 'device:register');
    const slice = timeSlicer();
    const records = await readCsv(csv, slice);
    const problems: CsvProblem[] = [];
    const header = records[0]
      ? Object.keys(records[0].record)
      : (csv
          .split(/\r?\n/, 1)[0]
          ?.split(',')
          .map((h) => h.trim()) ?? []);
    for (const col of header) {
      if (!(CSV_COLUMNS as readonly string[]).includes(col))
        problems.push({
          line: 1,
          column: col,
          reason: `unknown column (expected ${CSV_COLUMNS.join(', ')})`,
        });
    }
    for (const col of CSV_REQUIRED) {
      if (!header.includes(col))
        problems.push({ line: 1, column: col, reason: 'required column is missing' });
    }
    if (problems.length > 0) return { dryRun, rows: records.length, problems, registered: [] };

    const taken = new Set<string>();
    const planned: { line: number; input: RegisterDeviceBody; planned: Planned }[] = [];
    for (const { record, info } of records) {
      await slice();
      const line = info.lines;
      const input: RegisterDeviceBody = { model: record.model ?? '', site: record.site ?? '' };
      for (const col of [
        'id',
        'name',
        'serial',
        'gridNode',
        'emergencyUnit',
        'installNotes',
        ...IDENTITY_FIELDS,
      ] as const) {
        if (record[col]) input[col] = record[col];
      }
      for (const col of CSV_REQUIRED)
        if (!record[col]) problems.push({ line, column: col, reason: 'required value is empty' });
      if (!record.model || !record.site) continue;
      const result = await this.plan(this.db, principal, input, taken);
      for (const p of result.problems) problems.push({ line, column: p.field, reason: p.reason });
      if (result.planned) planned.push({ line, input, planned: result.planned });
    }
    if (dryRun) return { dryRun, rows: records.length, problems, registered: [] };
    if (problems.length > 0) {
      throw new GridhubError('GH_ERR_CSV_INVALID', `${problems.length} problem(s); nothing was imported`, {
        problems,
      });
    }
    const registered: CsvImportResult['registered'] = [];
    try {
      for (let i = 0; i < planned.length; i += CSV_CHUNK) {
        const chunk = planned.slice(i, i + CSV_CHUNK);
        const written = await this.db.transaction().execute(async (trx) => {
          const out: CsvImportResult['registered'] = [];
          for (const p of chunk)
            out.push({
              line: p.line,
              id: p.planned.id,
              secret: await this.insert(trx, principal, p.planned, p.input),
            });
          return out;
        });
        registered.push(...written);
        await slice();
      }
    } catch (err) {
      await this.undoImport(
        principal,
        registered.map((r) => r.id),
      );
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY')
        throw new GridhubError(
          'GH_ERR_CONFLICT',
          'a device of this file was registered meanwhile; nothing was imported',
        );
      throw err;
    }
    for (const r of registered) this.bus.emit('device.changed', { deviceId: r.id, change: 'registered' });
    return { dryRun, rows: records.length, problems, registered };
  }

  /** Remove the devices a failed import had already written (the audit log keeps both steps). */
  private async undoImport(principal: Principal, ids: string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += CSV_CHUNK) {
      const chunk = ids.slice(i, i + CSV_CHUNK);
      await this.db.transaction().execute(async (trx) => {
        await trx.deleteFrom('devices').where('id', 'in', chunk).execute();
        for (const id of chunk)
          await appendAudit(trx, {
            actor: actorOf(principal),
            action: 'device.import-undo',
            entityType: 'device',
            entityId: id,
          });
      });
    }
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
    if (q.online !== undefined) query = query.where('devices.online', '=', q.online ? 1 : 0);
    const total = await query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const rows = await query
      .selectAll('devices')
      .orderBy('devices.id')
      .limit(q.limit)
      .offset(q.offset)
      .execute();
    return { total: Number(total.n), items: await this.named(rows.map((r) => this.view(r))) };
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
          updated_at: new Date().toISOString(),
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
      const now = new Date().toISOString();
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
      await trx
        .updateTable('devices')
        .set({ status, updated_at: new Date().toISOString() })
        .where('id', '=', id)
        .execute();
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

/** Rows written per transaction by a real CSV import. */
const CSV_CHUNK = 500;

type CsvRecord = { record: Record<string, string>; info: { lines: number } };

/** Parse CSV as a stream, yielding to the event loop as it goes (a 5 MB file takes seconds). */
async function readCsv(csv: string, slice: () => Promise<void>): Promise<CsvRecord[]> {
  const parser = parseCsvStream({
    columns: (header: string[]) => header.map((h) => h.trim()),
    skip_empty_lines: true,
    trim: true,
    info: true,
  });
  const text = csv.replace(/^\uFEFF/, '');
  const records: CsvRecord[] = [];
  const feed = (async () => {
    for (let i = 0; i < text.length; i += 64 * 1024) {
      if (!parser.write(text.slice(i, i + 64 * 1024))) await new Promise((r) => parser.once('drain', r));
      await slice();
    }
    parser.end();
  })();
  feed.catch(() => undefined); // a parse error surfaces through the records loop below
  try {
    for await (const r of parser as AsyncIterable<CsvRecord>) {
      records.push(r);
      await slice();
    }
    await feed;
  } catch (err) {
    const e = err as Error & { lines?: number };
    throw new GridhubError('GH_ERR_CSV_INVALID', `CSV is not readable: ${e.message}`, {
      problems: [{ line: e.lines ?? 1, column: '', reason: e.message }],
    });
  }
  return records;
}
