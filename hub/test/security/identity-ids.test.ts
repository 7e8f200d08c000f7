/**
 * One id, one identity (issue 14 follow-up). A device's MQTT client id is its device id, a staff
 * client's its person id (or `person:suffix`), so a device id equal to a person id let one take over
 * the other's session. Registration refuses such an id everywhere it can be made (device register,
 * CSV import, community import, person create: GH_ERR_IDENTITY_ID_TAKEN), and for data from before
 * the check the broker refuses the device at CONNECT (CONNACK 0x02, counted and logged) instead of
 * letting it kick the person's app off. Played on a real hub over MQTT/TCP; each denial beside the
 * legitimate action that works.
 */
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadExample } from '../helpers/community.ts';
import {
  connectDevice,
  connectError,
  metrics,
  metricValue,
  registerDevice,
  topic,
} from '../helpers/devices.ts';
import { type ApiClient, startTestHub, type TestHub } from '../helpers/test-hub.ts';
import { waitFor } from '../helpers/wait.ts';
import { watch } from './helpers.ts';

type ErrorBody = { error: { code: string; message: string; details?: unknown } };
const code = (r: { body: unknown }) => (r.body as ErrorBody).error?.code;

let t: TestHub;
let url: string;
let people: Record<'p-installer' | 'p-block-leader', ApiClient>;
const taken = async () =>
  metricValue(await metrics(t), 'gridhub_errors_total', { code: 'GH_ERR_IDENTITY_ID_TAKEN' });

beforeAll(async () => {
  t = await startTestHub();
  url = `mqtt://127.0.0.1:${t.hub.broker.port}`;
  people = await loadExample(t.api, ['p-installer', 'p-block-leader']);
});
afterAll(async () => t.cleanup());

describe('registration refuses an id that names another identity', () => {
  it('a device may not take a person’s id (register and CSV import); its own id works', async () => {
    const installer = people['p-installer'];
    const clash = await installer.post('/api/v1/devices', {
      model: 'generic-panic-button',
      site: 'site-b1',
      id: 'p-block-leader',
    });
    expect(clash.status).toBe(409);
    expect(code(clash)).toBe('GH_ERR_IDENTITY_ID_TAKEN');
    const csv =
      'id,model,site\np-school-principal,generic-panic-button,site-b2\npb-csv-own,generic-panic-button,site-b2\n';
    const rows = await installer.post<ErrorBody>('/api/v1/devices/import', csv, 'text/csv');
    expect(rows.status).toBe(422);
    expect(code(rows)).toBe('GH_ERR_CSV_INVALID');
    expect(JSON.stringify(rows.body.error.details)).toContain('GH_ERR_IDENTITY_ID_TAKEN');
    expect((await t.api.get('/api/v1/devices/pb-csv-own')).status).toBe(404); // all or nothing
    // positive controls: an id of its own, alone and in a CSV
    expect(
      (
        await installer.post('/api/v1/devices', {
          model: 'generic-panic-button',
          site: 'site-b1',
          id: 'pb-own-1',
        })
      ).status,
    ).toBe(201);
    const ok = await installer.post(
      '/api/v1/devices/import',
      'id,model,site\npb-csv-own,generic-panic-button,site-b2\n',
      'text/csv',
    );
    expect(ok.status).toBe(200);
  });

  it('a person may not take a device’s id (person create and community import); a fresh id works', async () => {
    const device = await registerDevice(people['p-installer'], 'generic-panic-button', 'site-b1');
    const person = { name: '冒名者', roles: ['grid-staff'], scope: { gridNode: 'g-xinghua-1' } };
    const put = await t.api.put<ErrorBody>(`/api/v1/people/${device.id}`, person);
    expect(put.status).toBe(422);
    expect(code(put)).toBe('GH_ERR_COMMUNITY_INVALID');
    expect(JSON.stringify(put.body.error.details)).toContain('GH_ERR_IDENTITY_ID_TAKEN');
    const file = await t.api.post<ErrorBody>('/api/v1/grid/import', {
      people: [
        { id: 'p-fresh-1', ...person },
        { id: device.id, ...person },
      ],
    });
    expect(file.status).toBe(422);
    expect(JSON.stringify(file.body.error.details)).toContain(`people[1].id`);
    expect((await t.api.get('/api/v1/people/p-fresh-1')).status).toBe(404); // nothing written
    expect((await t.api.put(`/api/v1/people/p-fresh-1`, person)).status).toBe(200);
  });
});

describe('a device holding a person’s id from older data', () => {
  it('is refused at CONNECT and takes nothing over; the person’s app stays connected', async () => {
    // The leader's app uses the bare person id as its client id, with a persistent session.
    const token = (
      await t.api.post<{ token: string }>('/api/v1/people/p-block-leader/tokens', { label: 'app' })
    ).body.token;
    const leader = await mqtt.connectAsync(url, {
      clientId: 'p-block-leader',
      username: 'p-block-leader',
      password: token,
      clean: false,
      reconnectPeriod: 0,
    });
    const l = watch(leader);
    await leader.subscribeAsync('gh/v1/hub/person/p-block-leader/alert', { qos: 1 });

    // Data from before registration refused it: a device whose id is the leader's person id.
    const legacy = await registerDevice(people['p-installer'], 'generic-panic-button', 'site-b1', {
      id: 'pb-legacy',
    });
    await t.hub.store.db
      .updateTable('devices')
      .set({ id: 'p-block-leader' })
      .where('id', '=', 'pb-legacy')
      .execute();
    const before = await taken();
    for (let i = 0; i < 3; i++) {
      const attempt = await connectError(url, {
        clientId: 'p-block-leader',
        username: 'p-block-leader',
        password: legacy.secret,
      });
      expect(attempt.code).toBe(2); // identifier rejected
    }
    expect(await taken()).toBe(before + 3);
    expect(l.closed()).toBe(false);

    // The leader's session still works: a press of one of the unit's buttons reaches it.
    const button = await registerDevice(people['p-installer'], 'generic-panic-button', 'site-b2');
    const d = await connectDevice(t, button);
    const dw = watch(d);
    await d.publishAsync(topic(button.id, 'event'), JSON.stringify({ eventId: 'own-1', type: 'press' }), {
      qos: 1,
    });
    await waitFor(() => l.messages.some((m) => m.topic === 'gh/v1/hub/person/p-block-leader/alert'), {
      what: 'the alert on the leader’s own session',
    });
    expect(l.closed()).toBe(false);
    // positive control: an ordinary device connects and stays connected
    expect(dw.closed()).toBe(false);
    await d.endAsync();
    await leader.endAsync();
  });
});
