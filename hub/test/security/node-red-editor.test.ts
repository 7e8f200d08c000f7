/**
 * Issue 14 item 1 against the real Node-RED child the hub supervises (flows/settings.js): a
 * street-duty account — admitted read-only by `nodeRed.streetDutyReadOnly` — can look at flows but
 * cannot deploy; other roles cannot sign in; exec, function, file and the network nodes are not
 * loaded, so the attack flow http-in → exec → http-response runs nothing; http-in endpoints need a
 * gridhub token of an editor role. Positive control: an admin deploys a harmless flow and its
 * endpoint answers an authenticated caller.
 */
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { FLOWS_DIR } from '../../src/node-red/supervisor.ts';
import { loadExample } from '../helpers/community.ts';
import { type ApiClient, startTestHub, type TestHub, tempDirs } from '../helpers/test-hub.ts';
import { waitFor } from '../helpers/wait.ts';

const PASSWORD = 'correct horse battery';
const tmp = tempDirs('gridhub-nr-sec-');
let t: TestHub;
let editor: string;
let people: Record<'p-street-duty' | 'p-grid-worker-1', ApiClient>;

/** Sign in as the editor does: scope '' = the user's own permissions. */
async function editorToken(username: string): Promise<{ status: number; token?: string }> {
  const res = await fetch(`${editor}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_id: 'node-red-admin',
      grant_type: 'password',
      scope: '',
      username,
      password: PASSWORD,
    }),
  });
  const body = (await res.json().catch(() => ({}))) as { access_token?: string };
  return { status: res.status, ...(body.access_token ? { token: body.access_token } : {}) };
}

const deploy = (token: string, flows: object[]) =>
  fetch(`${editor}/flows`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      'node-red-deployment-type': 'full',
    },
    body: JSON.stringify(flows),
  });

/** A full deploy through the v2 API: resolves with the new revision. */
async function deployV2(token: string, flows: object[]): Promise<{ rev: string; sentAt: number }> {
  const sentAt = Date.now();
  const res = await fetch(`${editor}/flows`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      'node-red-api-version': 'v2',
      'node-red-deployment-type': 'full',
    },
    body: JSON.stringify({ flows }),
  });
  expect(res.status).toBe(200);
  return { rev: ((await res.json()) as { rev: string }).rev, sentAt };
}

interface CommsMessage {
  at: number;
  topic: string;
  data: { revision?: string; error?: string; types?: string[] };
}

/** The editor's comms WebSocket, as the editor uses it: runtime notifications as they happen. */
async function editorComms(token: string) {
  const ws = new WebSocket(`${editor.replace('http', 'ws')}/comms`);
  const messages: CommsMessage[] = [];
  let authed = false;
  ws.on('message', (raw) => {
    const parsed = JSON.parse(raw.toString()) as
      | { auth?: string }
      | { topic: string; data: CommsMessage['data'] }[];
    if (!Array.isArray(parsed)) {
      if (parsed.auth === 'ok') {
        authed = true;
        ws.send(JSON.stringify({ subscribe: 'notification/#' }));
      }
      return;
    }
    for (const m of parsed) messages.push({ at: Date.now(), topic: m.topic, data: m.data ?? {} });
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ auth: token }));
  await waitFor(() => authed, { what: 'comms authenticated' });
  return {
    after: (t0: number) => messages.filter((m) => m.at >= t0),
    close: () => ws.close(),
  };
}

const tab = { id: 'sec-tab', type: 'tab', label: 'security test' };
const httpIn = (id: string, url: string, next: string) => ({
  id,
  type: 'http in',
  z: 'sec-tab',
  url,
  method: 'get',
  upload: false,
  swaggerDoc: '',
  wires: [[next]],
});
const response = (id: string) => ({
  id,
  type: 'http response',
  z: 'sec-tab',
  statusCode: '',
  headers: {},
  wires: [],
});

beforeAll(async () => {
  const flowFile = join(tmp(), 'flows.json');
  copyFileSync(join(FLOWS_DIR, 'flows.json'), flowFile);
  t = await startTestHub({
    dataDir: tmp(),
    overrides: {
      'nodeRed.enabled': true,
      'nodeRed.port': 0,
      'nodeRed.flowFile': flowFile,
      'nodeRed.streetDutyReadOnly': true,
    },
  });
  people = await loadExample(t.api, ['p-street-duty', 'p-grid-worker-1']);
  for (const who of ['admin', 'p-street-duty', 'p-grid-worker-1'])
    expect((await t.api.put(`/api/v1/people/${who}/password`, { password: PASSWORD })).status).toBe(204);
  editor = await waitFor(() => t.hub.nodeRed?.whenReady(), { timeoutMs: 60_000, what: 'Node-RED listening' });
}, 120_000);
afterAll(async () => t?.cleanup());

describe('Node-RED editor', () => {
  it('street duty signs in read-only and cannot deploy; other staff cannot sign in; an admin may', async () => {
    const duty = await editorToken('p-street-duty');
    expect(duty.status).toBe(200);
    expect((await editorToken('p-grid-worker-1')).status).not.toBe(200);
    const admin = await editorToken('admin');
    expect(admin.status).toBe(200);

    const read = await fetch(`${editor}/flows`, { headers: { authorization: `Bearer ${duty.token}` } });
    expect(read.status).toBe(200);
    const before = ((await read.json()) as { id: string }[]).map((n) => n.id).sort();
    const attempt = await deploy(duty.token as string, [
      tab,
      httpIn('d-in', '/duty', 'd-out'),
      response('d-out'),
    ]);
    expect([401, 403]).toContain(attempt.status);
    const after = await fetch(`${editor}/flows`, { headers: { authorization: `Bearer ${admin.token}` } });
    expect(((await after.json()) as { id: string }[]).map((n) => n.id).sort()).toEqual(before);
  });

  it('loads no node that reaches the host: exec, function, file, watch, and the network nodes are absent', async () => {
    const admin = (await editorToken('admin')).token as string;
    const res = await fetch(`${editor}/nodes`, {
      headers: { authorization: `Bearer ${admin}`, accept: 'application/json' },
    });
    expect(res.status).toBe(200);
    const types = ((await res.json()) as { types: string[] }[]).flatMap((s) => s.types);
    for (const present of [
      'inject',
      'change',
      'switch',
      'template',
      'http in',
      'http response',
      'gridhub-notify',
    ])
      expect(types).toContain(present);
    for (const absent of [
      'exec',
      'function',
      'file',
      'file in',
      'watch',
      'http request',
      'tcp in',
      'tcp request',
      'udp out',
      'mqtt in',
      'websocket in',
    ])
      expect(types).not.toContain(absent);
  });

  it('the attack flow (http-in → exec → http-response) runs nothing; a harmless flow answers only authenticated editors', async () => {
    const admin = (await editorToken('admin')).token as string;
    const exec = {
      id: 'atk-exec',
      type: 'exec',
      z: 'sec-tab',
      command: 'id',
      addpay: '',
      append: '',
      useSpawn: 'false',
      timer: '',
      winHide: false,
      oldrc: false,
      wires: [['atk-out'], [], []],
    };
    // Node-RED starts a deploy after answering it; its comms socket says when the start is over
    // (runtime-deploy) and whether types were missing (runtime-state), so nothing is left to timing.
    const comms = await editorComms(admin);
    const rev = await deployV2(admin, [tab, httpIn('atk-in', '/atk', 'atk-exec'), exec, response('atk-out')]);
    const done = await waitFor(
      () =>
        comms
          .after(rev.sentAt)
          .find((m) => m.topic === 'notification/runtime-deploy' && m.data.revision === rev.rev),
      { what: 'the attack deploy processed' },
    );
    const missing = comms
      .after(rev.sentAt)
      .filter(
        (m) =>
          m.at <= done.at && m.topic === 'notification/runtime-state' && m.data.error === 'missing-types',
      );
    expect(missing.flatMap((m) => m.data.types ?? [])).toContain('exec');
    const atk = await fetch(`${editor}/atk`, { headers: { authorization: `Bearer ${t.api.token}` } });
    expect(atk.status).not.toBe(200);
    expect(await atk.text()).not.toContain('uid=');
    comms.close();

    // Positive control: http-in → change → http-response, deployed by an admin.
    const change = {
      id: 'ok-change',
      type: 'change',
      z: 'sec-tab',
      rules: [{ t: 'set', p: 'payload', pt: 'msg', to: 'pong', tot: 'str' }],
      wires: [['ok-out']],
    };
    expect(
      (await deploy(admin, [tab, httpIn('ok-in', '/ok', 'ok-change'), change, response('ok-out')])).status,
    ).toBe(204);
    const asAdmin = await waitFor(
      async () => {
        const r = await fetch(`${editor}/ok`, { headers: { authorization: `Bearer ${t.api.token}` } });
        return r.status === 200 ? r.text() : undefined;
      },
      { what: 'the harmless endpoint' },
    );
    expect(asAdmin).toBe('pong');
    const asDuty = await fetch(`${editor}/ok`, {
      headers: { authorization: `Bearer ${people['p-street-duty'].token}` },
    });
    expect(asDuty.status).toBe(200);
    // No token, a grid worker's token, or a made-up one: refused before the flow runs.
    expect((await fetch(`${editor}/ok`)).status).toBe(401);
    expect(
      (
        await fetch(`${editor}/ok`, {
          headers: { authorization: `Bearer ${people['p-grid-worker-1'].token}` },
        })
      ).status,
    ).toBe(401);
    expect((await fetch(`${editor}/ok`, { headers: { authorization: 'Bearer ghk_madeup' } })).status).toBe(
      401,
    );
  });
});
