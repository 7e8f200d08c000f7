import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { firstBrokenLink } from '../../src/audit/audit-log.ts';
import type { AuditRow } from '../../src/store/tables.ts';

/** Rows as the store holds them (epoch ms), hashed over the ISO text the hub hashes. */
function chain(n: number, text = (seq: number) => `2026-11-23T00:00:0${seq}.000Z`): AuditRow[] {
  const rows: AuditRow[] = [];
  let prev = '0'.repeat(64);
  for (let seq = 1; seq <= n; seq++) {
    const iso = text(seq);
    const at = Date.parse(iso);
    const row = {
      seq,
      at,
      // kept only where the ms does not render back to the hashed text (migration 0011)
      at_as_hashed: new Date(at).toISOString() === iso ? null : iso,
      actor: 'person:a',
      action: 'x',
      entity_type: 'device',
      entity_id: `d${seq}`,
      data: '{}',
    };
    const hash = createHash('sha256')
      .update(JSON.stringify([prev, iso, row.actor, row.action, row.entity_type, row.entity_id, row.data]))
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

  it('hashes the kept text of a time that epoch ms cannot render back (microseconds, an offset)', () => {
    const rows = chain(3, (seq) => `2026-11-23T08:00:0${seq}.000123+08:00`);
    expect(rows.every((r) => r.at_as_hashed !== null)).toBe(true);
    expect(firstBrokenLink(rows)).toBeNull();
    // without the kept text the same rows do not verify: the ms alone renders other text
    rows[1] = { ...(rows[1] as AuditRow), at_as_hashed: null };
    expect(firstBrokenLink(rows)).toBe(2);
  });

  it('changing a stored time breaks the chain', () => {
    const rows = chain(4);
    rows[2] = { ...(rows[2] as AuditRow), at: (rows[2] as AuditRow).at + 1 };
    expect(firstBrokenLink(rows)).toBe(3);
  });
});
