/**
 * `/metrics` is not anonymous: its counters name integrations and show alert and error traffic (the
 * issue-14 follow-up found it open to a LAN neighbour). A Prometheus server reads it with
 * `auth.metricsToken`; an admin's API token reads it too. Anyone else gets 401, with the positive
 * controls beside each denial.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadExample } from '../helpers/community.ts';
import { ADMIN_TOKEN, type ApiClient, startTestHub, type TestHub, tempDirs } from '../helpers/test-hub.ts';

const SCRAPE = 'prometheus-scrape-token-3f9c2a7e51';
const newDir = tempDirs();

describe('/metrics', () => {
  let t: TestHub;
  let people: Record<'p-installer' | 'p-street-duty', ApiClient>;
  beforeAll(async () => {
    t = await startTestHub({ dataDir: newDir(), overrides: { 'auth.metricsToken': SCRAPE } });
    people = await loadExample(t.api, ['p-installer', 'p-street-duty']);
  });
  afterAll(async () => t?.cleanup());

  const scrape = (authorization?: string) =>
    fetch(`${t.url}/metrics`, authorization ? { headers: { authorization } } : {});

  it('refuses anonymous callers and wrong tokens (401) and staff who are not admins (403)', async () => {
    for (const auth of [
      undefined,
      'Bearer ',
      `Bearer ${SCRAPE}x`,
      `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString('base64')}`,
    ]) {
      const r = await scrape(auth);
      expect(r.status, auth).toBe(401);
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe('GH_ERR_UNAUTHENTICATED');
    }
    for (const auth of [`Bearer ${people['p-installer'].token}`, `Bearer ${people['p-street-duty'].token}`]) {
      const r = await scrape(auth);
      expect(r.status, auth).toBe(403);
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe('GH_ERR_FORBIDDEN_ROLE');
    }
  });

  it('answers the scrape token and an admin (positive controls)', async () => {
    for (const auth of [`Bearer ${SCRAPE}`, `Bearer ${ADMIN_TOKEN}`]) {
      const r = await scrape(auth);
      expect(r.status).toBe(200);
      expect(await r.text()).toContain('gridhub_http_requests_total');
    }
  });
});
