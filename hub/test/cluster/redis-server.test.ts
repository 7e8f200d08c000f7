import { createConnection } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestRedis } from '../helpers/redis-server.ts';

/** Send one inline command, return the first reply line. */
function command(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createConnection({ host: '127.0.0.1', port });
    let got = '';
    s.once('error', reject);
    s.on('data', (d) => {
      got += d.toString();
      if (got.includes('\r\n')) {
        s.destroy();
        resolve(got.split('\r\n')[0] ?? '');
      }
    });
    s.once('connect', () => s.write(`${line}\r\n`));
  });
}

describe('the throw-away Redis of the cluster tests', () => {
  const redis = new TestRedis();
  beforeAll(() => redis.start());
  afterAll(() => redis.stop());

  it('answers on its own port and keeps nothing on disk', async () => {
    expect(redis.port).toBeGreaterThan(0);
    expect(await command(redis.port, 'SET k v')).toBe('+OK');
    expect(await command(redis.port, 'GET k')).toBe('$1');
    // --save '' leaves no RDB snapshot rule and AOF is off
    expect(await command(redis.port, 'CONFIG GET save')).toBe('*2');
    expect(await command(redis.port, 'DBSIZE')).toBe(':1');
  });

  it('is gone after stop (a second server starts on a fresh port)', async () => {
    const other = new TestRedis();
    await other.start();
    const port = other.port;
    expect(await command(port, 'PING')).toBe('+PONG');
    await other.stop();
    await expect(command(port, 'PING')).rejects.toThrow();
  });
});
