/**
 * Title codes render in both of the console's languages for every code the hub has (Chinese from the
 * hub's own templates, English from the console's catalogue), with no raw codes, no English in the
 * Chinese and no Chinese in the English; an unknown code or bad parameters fall back to the stored
 * text. The names lookup answers any number of ids of every kind in one query (a real SQLite file).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kysely, SqliteDialect } from 'kysely';
import { describe, expect, it } from 'vitest';
import { makeI18n } from '../../../dashboards/src/i18n.ts';
import { ELEVATOR_FAULT_CODES } from '../../src/contract/elevator-codes.ts';
import {
  renderTitle,
  TITLE_CODES,
  TITLES_ZH,
  type TitleCode,
  type TitleParams,
} from '../../src/contract/titles.ts';
import { lookupNames } from '../../src/grid/names.ts';
import { createLogger } from '../../src/logger.ts';
import { Store } from '../../src/store/store.ts';
import type { Database } from '../../src/store/tables.ts';

/** Parameters for every code, as the ticket service stores them (place names added). */
const SAMPLE: Record<TitleCode, TitleParams> = {
  'panic.press': { kind: 'double' },
  'fire.smoke': {},
  'fire.confirmed': { detectors: 3 },
  leak: {},
  'flood.warning': { level: 12, threshold: 10 },
  'flood.alarm': { level: 30, threshold: 25 },
  'flood.rising': { level: 12, rate: 42.5 },
  'flood.lasting': { level: 14, threshold: 10, minutes: 31 },
  'device.fault': {},
  'device.battery-low': {},
  'device.tamper': {},
  'device.end-of-life': {},
  'device.selftest-failed': {},
  'device.offline': {},
  'site.outage': { count: 6 },
  'elevator.rescue': { floor: 5 },
  'elevator.fault': { code: 'door_open_running', floor: 2 },
  'elevator.recurring': { count: 4, hours: 24 },
  'elevator.maintenance-overdue': { last: '2026-11-01' },
};

const zh = makeI18n('zh-CN');
const en = makeI18n('en');
const CJK = /[\u3400-\u9fff\uff00-\uffef]/;

describe('titles in both languages', () => {
  it('every code renders in Chinese and English, without raw codes or the other language', () => {
    expect(Object.keys(SAMPLE).sort()).toEqual([...TITLE_CODES].sort());
    for (const code of TITLE_CODES) {
      const zhText = zh.title({
        title: 'stored',
        titleCode: code,
        titleParams: { site: '杏花社区1号楼', device: '1号楼1号梯', ...SAMPLE[code] },
      });
      const enText = en.title({
        title: 'stored',
        titleCode: code,
        titleParams: { site: 'Building 1', device: 'Lift 1', ...SAMPLE[code] },
      });
      // The console's Chinese is the hub's (what chat robots get).
      expect(zhText).toBe(
        renderTitle(TITLES_ZH, code, { site: '杏花社区1号楼', device: '1号楼1号梯', ...SAMPLE[code] }),
      );
      for (const text of [zhText, enText]) {
        expect(text, code).not.toBe('stored');
        expect(text, code).not.toMatch(/undefined|null|NaN|door_open_running|\{/);
      }
      // Chinese: no Latin words beyond the unit cm and the numbers.
      expect(zhText.replace(/cm/g, ''), code).not.toMatch(/[A-Za-z]/);
      expect(enText, code).not.toMatch(CJK);
    }
  });

  it('names elevator codes: GB/T numbers with their name, add-on codes by name alone', () => {
    expect(zh.cause('elevator-fault-09')).toBe('电梯故障（09 冲顶）');
    expect(en.cause('elevator-fault-09')).toBe('Elevator fault (09 car overran the top)');
    expect(zh.cause('elevator-fault-door_open_running')).toBe('电梯故障（开门运行）');
    expect(en.cause('elevator-fault-door_open_running')).toBe('Elevator fault (door open while running)');
    for (const code of ELEVATOR_FAULT_CODES) {
      expect(zh.elevatorCode(code).replace(/^\d+ /, '')).toMatch(CJK);
      expect(en.elevatorCode(code)).not.toMatch(CJK);
      expect(en.elevatorCode(code)).not.toContain('_');
    }
  });

  it('falls back to the stored text for a title without a code, an unknown code or bad parameters', () => {
    expect(en.title({ title: '楼道堆物', titleCode: null })).toBe('楼道堆物');
    expect(en.title({ title: 'from a newer hub', titleCode: 'water.tsunami', titleParams: {} })).toBe(
      'from a newer hub',
    );
    expect(en.title({ title: 'params lost', titleCode: 'site.outage', titleParams: { site: 'B1' } })).toBe(
      'params lost',
    );
    // The positive control: the same code with its parameters renders.
    expect(en.title({ title: 'x', titleCode: 'site.outage', titleParams: { site: 'B1', count: 2 } })).toBe(
      'Site offline: B1 (2 devices)',
    );
  });
});

describe('names lookup', () => {
  it('answers ids of every kind in one query, null for unknown ids and unnamed devices', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gridhub-names-'));
    const store = new Store(dir, createLogger('silent'));
    await store.start();
    const queries: string[] = [];
    const db = new Kysely<Database>({
      dialect: new SqliteDialect({ database: store.sqlite }),
      log: (e) => {
        if (e.level === 'query') queries.push(e.query.sql);
      },
    });
    try {
      await store.db
        .insertInto('grid_nodes')
        .values({
          id: 'g-1',
          kind: 'grid',
          exclusive_type: null,
          name: '第一网格',
          parent_id: null,
          path: '/g-1/',
          created_at: Date.parse('2026-12-01T00:00:00Z'),
          updated_at: Date.parse('2026-12-01T00:00:00Z'),
        })
        .execute();
      await store.db
        .insertInto('people')
        .values(
          Array.from({ length: 300 }, (_, i) => ({
            id: `p-${i}`,
            name: `人员${i}`,
            phone: null,
            roles: '[]',
            scope_grid_node_id: null,
            scope_site_ids: '[]',
            password_hash: null,
            active: 1,
            created_at: Date.parse('2026-12-01T00:00:00Z'),
            updated_at: Date.parse('2026-12-01T00:00:00Z'),
          })),
        )
        .execute();
      const names = await lookupNames(db, {
        person: [...Array.from({ length: 300 }, (_, i) => `p-${i}`), 'p-gone', null],
        gridNode: ['g-1'],
        site: ['site-none'],
        device: [undefined],
      });
      expect(queries).toHaveLength(1);
      expect(names.get('person', 'p-0')).toBe('人员0');
      expect(names.get('person', 'p-299')).toBe('人员299');
      expect(names.get('gridNode', 'g-1')).toBe('第一网格');
      expect(names.get('person', 'p-gone')).toBeNull();
      expect(names.get('site', 'site-none')).toBeNull();
      // The kinds do not mix: a person id asked as a site has no name.
      expect(names.get('site', 'p-0')).toBeNull();
      expect(names.actor('person:p-1')).toBe('人员1');
      expect(names.actor('rule:smoke-alarm')).toBeNull();
      // Nothing to look up costs no query.
      await lookupNames(db, { person: [null] });
      expect(queries).toHaveLength(1);
    } finally {
      await store.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
