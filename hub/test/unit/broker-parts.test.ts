import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { Principal } from '../../src/auth/principal.ts';
import {
  type ClientIdentity,
  forwardAllowed,
  publishAllowed,
  subscribeAllowed,
} from '../../src/broker/acl.ts';
import type { KnownDevice } from '../../src/broker/device-directory.ts';
import { FrameLimit, FrameTooLargeError } from '../../src/broker/frame-limit.ts';
import { scopeOf, withScope } from '../../src/broker/message-scope.ts';
import { TokenBucket } from '../../src/broker/rate-limiter.ts';

const device: KnownDevice = {
  deviceId: 'sd-1',
  modelId: 'generic-nb-smoke',
  deviceType: 'smoke-detector',
  siteId: 'site-1',
  gridNodeId: 'g-a',
  gridPath: '/d/g-a/',
  emergencyUnitId: null,
  status: 'active',
  secretHash: '',
};
const asDevice: ClientIdentity = { kind: 'device', device };
const staff = (jurisdiction: Principal['jurisdiction']): ClientIdentity => ({
  kind: 'staff',
  principal: { personId: 'p', name: 'p', roles: ['grid-staff'], jurisdiction },
});

describe('topic ACL', () => {
  it('lets a device publish only on its own device topics', () => {
    expect(publishAllowed(asDevice, 'gh/v1/dev/sd-1/event')).toBe(true);
    expect(publishAllowed(asDevice, 'gh/v1/dev/sd-1/telemetry')).toBe(true);
    expect(publishAllowed(asDevice, 'gh/v1/dev/sd-1/status')).toBe(true);
    expect(publishAllowed(asDevice, 'gh/v1/dev/sd-2/event')).toBe(false);
    expect(publishAllowed(asDevice, 'gh/v1/dev/sd-1/cmd')).toBe(false);
    expect(publishAllowed(asDevice, 'gh/v1/hub/event/g-a/site-1/sd-1')).toBe(false);
    expect(publishAllowed(asDevice, '$SYS/broker/x')).toBe(false);
  });

  it('lets a device subscribe only to its own command topic, staff only to hub topics', () => {
    expect(subscribeAllowed(asDevice, 'gh/v1/dev/sd-1/cmd')).toBe(true);
    expect(subscribeAllowed(asDevice, 'gh/v1/dev/+/cmd')).toBe(false);
    expect(subscribeAllowed(asDevice, '#')).toBe(false);
    const s = staff({ kind: 'all' });
    expect(subscribeAllowed(s, 'gh/v1/hub/#')).toBe(true);
    expect(subscribeAllowed(s, 'gh/v1/dev/#')).toBe(false);
    expect(subscribeAllowed(s, '#')).toBe(false);
  });

  it('forwards hub messages only within jurisdiction, by the scope they were published with', () => {
    const a = scopeOf({ properties: withScope({ gridPath: '/d/g-a/', siteId: 'site-1' }) });
    const b = scopeOf({ properties: withScope({ gridPath: '/d/g-b/', siteId: 'site-9' }) });
    expect(a).toEqual({ gridPath: '/d/g-a/', siteId: 'site-1' });
    const gridA = staff({ kind: 'grid', nodeId: 'g-a', path: '/d/g-a/' });
    expect(forwardAllowed(gridA, 'gh/v1/hub/event/g-a/site-1/sd-1', a)).toBe(true);
    expect(forwardAllowed(gridA, 'gh/v1/hub/event/g-b/site-9/sd-9', b)).toBe(false);
    // a scoped topic without a scope (nothing says where it is) goes to nobody
    expect(forwardAllowed(gridA, 'gh/v1/hub/event/g-unknown/site-9/sd-9', undefined)).toBe(false);
    const pm = staff({ kind: 'sites', siteIds: ['site-9'] });
    expect(forwardAllowed(pm, 'gh/v1/hub/event/g-b/site-9/sd-9', b)).toBe(true);
    expect(forwardAllowed(pm, 'gh/v1/hub/event/g-a/site-1/sd-1', a)).toBe(false);
    // a ticket without a site reaches no property manager
    expect(
      forwardAllowed(
        pm,
        'gh/v1/hub/ticket/g-b/-/T1',
        scopeOf({ properties: withScope({ gridPath: '/d/g-b/', siteId: null }) }),
      ),
    ).toBe(false);
  });
});

describe('token bucket', () => {
  it('allows the burst, then holds back at the sustained rate', () => {
    let now = 0;
    const bucket = new TokenBucket(10, 3, () => now);
    expect([bucket.take(), bucket.take(), bucket.take()]).toEqual([0, 0, 0]);
    expect(bucket.take()).toBe(100);
    expect(bucket.take()).toBe(200);
    now = 1000; // ten tokens refilled, two of them already owed
    expect(bucket.take()).toBe(0);
  });
});

describe('frame limit', () => {
  const publish = (payloadBytes: number) => {
    const remaining = payloadBytes + 2 + 5; // topic length + 'a/b/c'
    const len: number[] = [];
    let x = remaining;
    do {
      let byte = x % 128;
      x = Math.floor(x / 128);
      if (x > 0) byte |= 0x80;
      len.push(byte);
    } while (x > 0);
    return Buffer.concat([
      Buffer.from([0x30, ...len, 0, 5]),
      Buffer.from('a/b/c'),
      Buffer.alloc(payloadBytes),
    ]);
  };
  const run = async (chunks: Buffer[], limit: number) => {
    const out: Buffer[] = [];
    const stream = Readable.from(chunks).pipe(new FrameLimit(limit));
    for await (const c of stream) out.push(c as Buffer);
    return Buffer.concat(out);
  };

  it('passes packets within the limit byte for byte, across chunk boundaries', async () => {
    const data = Buffer.concat([publish(10), publish(300), publish(20_000)]);
    const chunks = [data.subarray(0, 3), data.subarray(3, 14), data.subarray(14, 400), data.subarray(400)];
    expect((await run(chunks, 64 * 1024)).equals(data)).toBe(true);
  });

  it('fails on a packet over the limit before its body arrives', async () => {
    const big = publish(2_000_000).subarray(0, 10); // only the header has arrived
    await expect(run([big], 64 * 1024)).rejects.toBeInstanceOf(FrameTooLargeError);
  });
});
