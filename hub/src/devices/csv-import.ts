import { parse as parseCsvStream } from 'csv-parse';
import { appendAudit } from '../audit/audit-log.ts';
import { actorOf, type Principal, requirePermission } from '../auth/principal.ts';
import type { Bus } from '../bus.ts';
import { GridhubError } from '../errors.ts';
import type { Db } from '../store/store.ts';
import { timeSlicer } from '../yield.ts';
import {
  CSV_COLUMNS,
  CSV_REQUIRED,
  type CsvImportResult,
  type CsvProblem,
  type RegisterDeviceBody,
} from './device-schemas.ts';
import { IDENTITY_FIELDS } from './identities.ts';
import type { DeviceRegistry, Planned } from './registry.ts';

/** The registry's planning and writing of one registration, which a CSV row is too. */
type Registrar = Pick<DeviceRegistry, 'plan' | 'insert'>;

/** An installer's CSV of devices: checked whole, written whole or not at all, never blocking the loop. */
export class DeviceCsvImport {
  constructor(
    private readonly db: Db,
    private readonly bus: Bus,
    private readonly registrar: Registrar,
  ) {}

  private plan(...args: Parameters<Registrar['plan']>) {
    return this.registrar.plan(...args);
  }

  private insert(...args: Parameters<Registrar['insert']>) {
    return this.registrar.insert(...args);
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
    const memo = new Map<string, Promise<unknown>>();
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
      const result = await this.plan(this.db, principal, input, taken, memo);
      for (const p of result.problems) problems.push({ line, column: p.field, reason: p.reason });
      if (result.planned && !dryRun) planned.push({ line, input, planned: result.planned });
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
      // a duplicate key: SQLite's code, or PostgreSQL's SQLSTATE 23505 (unique_violation)
      const code = (err as { code?: string }).code;
      if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505')
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
    // keep only the line number of each record: csv-parse's full info object per row is what a
    // 200,000-row file spends most of its memory (and garbage collection) on
    on_record: (record: Record<string, string>, context: { lines: number }) => ({
      record,
      info: { lines: context.lines },
    }),
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
