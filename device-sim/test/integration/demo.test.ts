/**
 * Proves `npm run demo` as a newcomer runs it: the hub on embedded defaults with a living community
 * shows tickets and alerts within a minute, and stops cleanly on Ctrl-C (SIGINT).
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../../hub/test/helpers/test-hub.ts';
import { testStoreEnv } from '../../../hub/test/helpers/test-store.ts';
import { waitFor } from '../../../hub/test/helpers/wait.ts';

const ROOT = new URL('../../../', import.meta.url).pathname;
const dataDir = tempDir('gridhub-demo-');
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('npm run demo', () => {
  it('shows tickets and alerts within a minute', { timeout: 90_000 }, async () => {
    const child = spawn('npm', ['run', 'demo'], {
      cwd: ROOT,
      env: {
        ...process.env,
        GRIDHUB_DATA_DIR: dataDir,
        ...(await testStoreEnv(dataDir)),
        GRIDHUB_HTTP_PORT: '0',
        GRIDHUB_MQTT_PORT: '0',
        GRIDHUB_HTTP_HOST: '127.0.0.1',
        GRIDHUB_MQTT_HOST: '127.0.0.1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal })),
    );
    const started = Date.now();
    await waitFor(() => /工单 新建 .*\[panic\]/.test(out) && /告警 raised .*critical/.test(out), {
      timeoutMs: 60_000,
      what: `tickets and alerts in:\n${out}`,
    });
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(out).toContain('gridhub demo');
    await waitFor(() => /工单 升级 .*\[fire\] L4/.test(out), { timeoutMs: 30_000, what: 'confirmed fire' });
    process.kill(-(child.pid as number), 'SIGINT');
    // npm itself ends on the group's SIGINT; the demo under it must not report a failure.
    const end = await exited;
    expect(end.code === 0 || end.signal === 'SIGINT', JSON.stringify(end)).toBe(true);
    expect(out).not.toContain('demo failed');
  });
});
