import { describe, expect, it } from 'vitest';
import { covers, type Jurisdiction } from '../../src/auth/principal.ts';
import { roleAllows } from '../../src/auth/roles.ts';

describe('jurisdiction', () => {
  const gridA = { kind: 'grid', nodeId: 'g-a', path: '/d/s/c/g-a/' } as const;

  it('covers its subtree and nothing beside it', () => {
    expect(covers(gridA, { gridPath: '/d/s/c/g-a/' })).toBe(true);
    expect(covers(gridA, { gridPath: '/d/s/c/g-a/mg-1/' })).toBe(true);
    expect(covers(gridA, { gridPath: '/d/s/c/g-b/' })).toBe(false);
    // a sibling whose id starts with the same letters is not inside
    expect(covers(gridA, { gridPath: '/d/s/c/g-a2/' })).toBe(false);
    expect(covers(gridA, { gridPath: '/d/s/c/' })).toBe(false);
  });

  it('covers a property manager’s sites only', () => {
    const pm: Jurisdiction = { kind: 'sites', siteIds: ['s1'] };
    expect(covers(pm, { gridPath: '/d/', siteId: 's1' })).toBe(true);
    expect(covers(pm, { gridPath: '/d/', siteId: 's2' })).toBe(false);
    expect(covers(pm, { gridPath: '/d/' })).toBe(false);
  });

  it('gives each permission only to its roles', () => {
    expect(roleAllows(['installer'], 'device:register')).toBe(true);
    expect(roleAllows(['installer'], 'people:write')).toBe(false);
    expect(roleAllows(['grid-staff', 'unit-leader'], 'device:register')).toBe(false);
    expect(roleAllows(['property-manager'], 'device:maintenance')).toBe(true);
  });
});
