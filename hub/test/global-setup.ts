/**
 * Integration-test setup: make sure the real external programs the tests speak to are installed
 * (Debian packages, installed with apt-get when missing, as CI runs as root on a fresh machine).
 * Each later issue adds what it needs to REQUIRED_PACKAGES.
 */
import { ensureDebianPackages } from './helpers/system-packages.ts';

export const REQUIRED_PACKAGES: { command: string; pkg: string }[] = [
  // a real MQTT client nobody here wrote, for the device path and flood tests
  { command: 'mosquitto_pub', pkg: 'mosquitto-clients' },
  // a test certificate for MQTT over TLS
  { command: 'openssl', pkg: 'openssl' },
  // a real time-series server that accepts the InfluxDB v2 write API
  { command: 'victoria-metrics', pkg: 'victoria-metrics' },
  // validates docker-compose.yml (no Docker engine runs here)
  { command: 'docker-compose', pkg: 'docker-compose' },
];

export default async function setup(): Promise<void> {
  await ensureDebianPackages(REQUIRED_PACKAGES);
}
