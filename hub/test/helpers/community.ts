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
