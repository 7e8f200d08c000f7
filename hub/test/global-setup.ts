/**
 * Integration-test setup: make sure the real external programs the tests speak to are installed
 * (Debian packages, installed with apt-get when missing, as CI runs as root on a fresh machine).
 * Each later issue adds what it needs to REQUIRED_PACKAGES.
 */
import { execFileSync } from 'node:child_process';
import { ensureDebianPackages } from './helpers/system-packages.ts';

export const REQUIRED_PACKAGES: { command: string; pkg: string }[] = [
  // a real MQTT client nobody here wrote, for the device path and flood tests
  { command: 'mosquitto_pub', pkg: 'mosquitto-clients' },
  // a real foreign broker standing in for a ChirpStack network server's (issue 20)
  { command: '/usr/sbin/mosquitto', pkg: 'mosquitto' },
  // a test certificate for MQTT over TLS
  { command: 'openssl', pkg: 'openssl' },
  // a real time-series server that accepts the InfluxDB v2 write API
  { command: 'victoria-metrics', pkg: 'victoria-metrics' },
  // the load balancer of the cluster tests and the check of deploy/haproxy.cfg (issue 19)
  { command: 'haproxy', pkg: 'haproxy' },
  // validates docker-compose.yml (no Docker engine runs here)
  { command: 'docker-compose', pkg: 'docker-compose' },
  // a real browser for the console tests (playwright-core drives Debian's Chromium, headless)
  { command: 'chromium', pkg: 'chromium' },
  // a Chinese font, so the console's screenshots show text rather than empty boxes
  { command: '/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc', pkg: 'fonts-wqy-zenhei' },
];

export default async function setup(): Promise<void> {
  await ensureDebianPackages(REQUIRED_PACKAGES);
  // The hub serves the built console; build it when missing or older than its sources.
  execFileSync(process.execPath, ['scripts/build-console.mjs', '--if-stale'], { stdio: 'inherit' });
}
