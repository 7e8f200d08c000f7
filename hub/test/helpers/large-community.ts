import type { CommunityFile } from '../../src/grid/community-schema.ts';

export interface LargeCommunityShape {
  streets: number;
  communitiesPerStreet: number;
  gridsPerCommunity: number;
  microGridsPerGrid: number;
  /** one site per this many micro-grids (0 = no sites) */
  sitesEvery: number;
}

/** 15 × 10 × 30 × 29: 135,150 nodes under the example's district, like a whole city's grid model. */
export const CITY: LargeCommunityShape = {
  streets: 15,
  communitiesPerStreet: 10,
  gridsPerCommunity: 30,
  microGridsPerGrid: 29,
  sitesEvery: 100,
};

export function nodeCount(s: LargeCommunityShape): number {
  const c = s.streets * s.communitiesPerStreet;
  const g = c * s.gridsPerCommunity;
  return s.streets + c + g + g * s.microGridsPerGrid;
}

/**
 * A generated community file hanging under the example community's district `d-qinghe`: streets,
 * communities, grids (each with the example's grid worker on duty) and micro-grids, and a site every
 * `sitesEvery` micro-grids. Ids are short so that 135,000 nodes stay near 8 MB of JSON.
 */
export function largeCommunity(s: LargeCommunityShape = CITY): CommunityFile {
  const gridNodes: NonNullable<CommunityFile['gridNodes']> = [];
  const sites: NonNullable<CommunityFile['sites']> = [];
  let micro = 0;
  for (let a = 0; a < s.streets; a++) {
    const street = `s${a}`;
    gridNodes.push({ id: street, kind: 'street', name: `街道${a}`, parent: 'd-qinghe' });
    for (let b = 0; b < s.communitiesPerStreet; b++) {
      const community = `c${a}.${b}`;
      gridNodes.push({ id: community, kind: 'community', name: `社区${a}.${b}`, parent: street });
      for (let c = 0; c < s.gridsPerCommunity; c++) {
        const grid = `g${a}.${b}.${c}`;
        gridNodes.push({
          id: grid,
          kind: 'grid',
          name: `网格${a}.${b}.${c}`,
          parent: community,
          duty: [{ role: 'grid-worker', person: 'p-grid-worker-1' }],
        });
        for (let d = 0; d < s.microGridsPerGrid; d++) {
          const id = `m${a}.${b}.${c}.${d}`;
          gridNodes.push({ id, kind: 'micro-grid', name: id, parent: grid });
          if (s.sitesEvery > 0 && micro++ % s.sitesEvery === 0)
            sites.push({ id: `site-${id}`, gridNode: id, name: `楼${id}` });
        }
      }
    }
  }
  return { version: 1, gridNodes, sites };
}
