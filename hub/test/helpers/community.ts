import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { CommunityFile } from '../../src/grid/community-schema.ts';
import type { ApiClient } from './start-hub.ts';

export const EXAMPLE_COMMUNITY_PATH = new URL('../../examples/community.yaml', import.meta.url);

export function exampleCommunityYaml(): string {
  return readFileSync(EXAMPLE_COMMUNITY_PATH, 'utf8');
}

export function exampleCommunity(): CommunityFile {
  return parse(exampleCommunityYaml()) as CommunityFile;
}

/** Load the example community and issue an API token for each named person. */
export async function loadExample<const N extends string>(
  admin: ApiClient,
  people: readonly N[] = [],
): Promise<Record<N, ApiClient>> {
  const res = await admin.post('/api/v1/grid/import', exampleCommunityYaml(), 'application/yaml');
  if (res.status !== 200)
    throw new Error(`community import failed: ${res.status} ${JSON.stringify(res.body)}`);
  const clients = {} as Record<N, ApiClient>;
  for (const id of people) {
    const token = await admin.post<{ token: string }>(`/api/v1/people/${id}/tokens`, { label: 'test' });
    if (token.status !== 201)
      throw new Error(`token for ${id}: ${token.status} ${JSON.stringify(token.body)}`);
    clients[id] = admin.as(token.body.token);
  }
  return clients;
}

/**
 * A second street beside the example's (东园街道 s-dongyuan): 北苑街道 s-beiyuan with one community,
 * one grid, one site and one emergency unit, and its own staff. The security suite plays street B's
 * people against street A's things.
 */
export const STREET_B: CommunityFile = {
  gridNodes: [
    {
      id: 's-beiyuan',
      kind: 'street',
      name: '北苑街道',
      parent: 'd-qinghe',
      duty: [{ role: 'duty-room', person: 'p-by-duty' }],
    },
    { id: 'c-beiyuan', kind: 'community', name: '北苑社区', parent: 's-beiyuan' },
    {
      id: 'g-beiyuan-1',
      kind: 'grid',
      name: '北苑社区第一网格',
      parent: 'c-beiyuan',
      duty: [{ role: 'grid-worker', person: 'p-by-worker' }],
    },
  ],
  people: [
    { id: 'p-by-duty', name: '北苑街道值班室', roles: ['street-duty'], scope: { gridNode: 's-beiyuan' } },
    { id: 'p-by-installer', name: '北苑安装', roles: ['installer'], scope: { gridNode: 's-beiyuan' } },
    { id: 'p-by-worker', name: '北苑网格员', roles: ['grid-staff'], scope: { gridNode: 'g-beiyuan-1' } },
    { id: 'p-by-property', name: '北苑物业', roles: ['property-manager'], scope: { sites: ['site-by1'] } },
    { id: 'p-by-leader', name: '北苑楼长', roles: ['unit-leader'], scope: { gridNode: 'g-beiyuan-1' } },
  ],
  sites: [{ id: 'site-by1', gridNode: 'g-beiyuan-1', name: '北苑1号楼', kind: 'residential' }],
  emergencyUnits: [
    {
      id: 'eu-by-1',
      name: '北苑1号楼最小应急单元',
      kind: 'residential',
      gridNode: 'g-beiyuan-1',
      leader: 'p-by-leader',
      sites: ['site-by1'],
    },
  ],
};

/** The example community plus street B, with an API token for each named person. */
export async function loadTwoStreets<const N extends string>(
  admin: ApiClient,
  people: readonly N[] = [],
): Promise<Record<N, ApiClient>> {
  await loadExample(admin);
  const res = await admin.post('/api/v1/grid/import', STREET_B);
  if (res.status !== 200)
    throw new Error(`street B import failed: ${res.status} ${JSON.stringify(res.body)}`);
  const out = {} as Record<N, ApiClient>;
  for (const id of people) out[id] = await tokenFor(admin, id);
  return out;
}

/** A fresh API token for a person, as a client. */
export async function tokenFor(admin: ApiClient, personId: string, label = 'test'): Promise<ApiClient> {
  const token = await admin.post<{ token: string }>(`/api/v1/people/${personId}/tokens`, { label });
  if (token.status !== 201)
    throw new Error(`token for ${personId}: ${token.status} ${JSON.stringify(token.body)}`);
  return admin.as(token.body.token);
}
