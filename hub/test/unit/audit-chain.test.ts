import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { firstBrokenLink } from '../../src/audit/audit-log.ts';
import type { AuditRow } from '../../src/store/tables.ts';

function chain(n: number): AuditRow[] {
  const rows: AuditRow[] = [];
  let prev = '0'.repeat(64);
  for (let seq = 1; seq <= n; seq++) {
    const row = {
      seq,
      at: `2026-11-23T00:00:0${seq}.000Z`,
      actor: 'person:a',
      action: 'x',
      entity_type: 'device',
      entity_id: `d${seq}`,
      data: '{}',
    };
    const hash = createHash('sha256')
      .update(JSON.stringify([prev, row.at, row.actor, row.action, row.entity_type, row.entity_id, row.data]))
      .digest('hex');
    rows.push({ ...row, prev_hash: prev, hash });
    prev = hash;
  }
  return rows;
}

describe('audit hash chain', () => {
  it('accepts an intact chain', () => {
    expect(firstBrokenLink(chain(5))).toBeNull();
  });

  it('finds an edited entry', () => {
    const rows = chain(5);
    rows[2] = { ...(rows[2] as AuditRow), actor: 'person:mallory' };
    expect(firstBrokenLink(rows)).toBe(3);
  });

  it('finds a removed entry', () => {
    const rows = chain(5);
    rows.splice(1, 1);
    expect(firstBrokenLink(rows)).toBe(3);
  });
});
