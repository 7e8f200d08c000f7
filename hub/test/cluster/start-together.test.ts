/**
 * Nodes of a cluster may start at the same moment on an empty database (a compose file starts
 * them together): both run the migrations, the rowid pass and the bootstrap admin against one
 * PostgreSQL database at once, both come up, and both accept the bootstrap admin token.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { HubProcess } from '../helpers/hub-process.ts';
import { tempDirs } from '../helpers/test-hub.ts';
import { dropTestStore, postgresStoreUrl } from '../helpers/test-store.ts';
import { FAST } from './two-hubs.ts';

const newDir = tempDirs('gridhub-cluster-');
const dirA = newDir();
const hubs: HubProcess[] = [];

afterAll(async () => {
  await Promise.all(hubs.map((h) => h.stop()));
  await dropTestStore(dirA);
});

describe('nodes starting together', () => {
  it('brings up three nodes started at once on one empty database', async () => {
    const url = await postgresStoreUrl(dirA);
    for (const dir of [dirA, newDir(), newDir()])
      hubs.push(new HubProcess(dir, { ...FAST, GRIDHUB_STORE_URL: url }));
    await Promise.all(hubs.map((h) => h.start()));
    for (const h of hubs) {
      const res = await h.api.get<{ items: unknown[] }>('/api/v1/people');
      expect(res.status, h.url).toBe(200);
    }
    const migrated = await hubs[0]?.api.get('/api/v1/devices');
    expect(migrated?.status).toBe(200);
  });
});
