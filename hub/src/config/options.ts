import path from 'node:path';
import type { AlertOptions } from '../alerts/alert-context.ts';
import type { IngestOptions } from '../ingest/ingest.ts';
import type { JournalOptions } from '../ingest/journal.ts';
import { OutboundPolicy } from '../outbound/address-policy.ts';
import type { StaffOutputOptions } from '../output/staff-output.ts';
import type { StorageHealth } from '../store/storage-health.ts';
import type { Config } from './schema.ts';

/**
 * Services' options from the config, with the config's units (hours, days, seconds) turned into
 * the milliseconds the code counts in: the one place the two namings meet.
 */
export const journalOptions = (config: Config): JournalOptions => ({
  dataDir: config.dataDir,
  spoolMaxPoints: config.influx.spoolMaxPoints,
  maxBatch: config.ingest.journalMaxBatch,
  legacy: {
    storeFile: path.join(config.dataDir, 'gridhub.sqlite'),
    spoolFile: path.join(config.dataDir, 'timeseries-spool.sqlite'),
  },
  // On PostgreSQL every commit is durable when it returns: there is no file to checkpoint (the
  // series tables live there too).
  ...(config.store.url === ''
    ? {
        storeFile: path.join(config.dataDir, 'gridhub.sqlite'),
        seriesFile: path.join(config.dataDir, 'series.sqlite'),
      }
    : {}),
  ...(config.mqtt.persistence === 'sqlite'
    ? { sessionFile: path.join(config.dataDir, 'broker.sqlite') }
    : {}),
});

export const ingestOptions = (config: Config): IngestOptions => ({
  maxPayloadBytes: config.mqtt.maxPayloadBytes,
  dedupeRetentionMs: config.ingest.dedupeRetentionHours * 3600_000,
  maxClockAheadMs: config.ingest.maxClockAheadHours * 3600_000,
  maxClockBehindMs: config.ingest.maxClockBehindDays * 86_400_000,
  maxJsonDepth: config.ingest.maxJsonDepth,
});

export const alertOptions = (
  config: Config,
  publicUrl: () => string,
  storage: StorageHealth,
): AlertOptions => ({
  tickMs: config.alerts.tickMs,
  webhookTimeoutMs: config.alerts.webhookTimeoutMs,
  webhookRetries: config.alerts.webhookRetries,
  webhookRetryBaseMs: config.alerts.webhookRetryBaseMs,
  linkTtlMs: config.alerts.linkTtlHours * 3600_000,
  linkSecret: config.alerts.linkSecret,
  publicUrl,
  storage,
  outbound: new OutboundPolicy(config.outbound.allow),
});

/**
 * How long a batch of ordinary hub messages to staff subscribers may take, from its publishing to
 * its last write, before the next batch is halved (output/staff-output.ts). 5 ms kept the panic
 * press p50 within a few ms of the same load without subscribers; 20 ms was no faster (docs/decisions.md).
 */
const STAFF_OUTPUT_BUDGET_MS = 5;

export const staffOutputOptions = (
  config: Config,
  lifeSafety: StaffOutputOptions['lifeSafety'],
): StaffOutputOptions => ({
  maxQueued: config.mqtt.staffQueueMessages,
  budgetMs: STAFF_OUTPUT_BUDGET_MS,
  lifeSafety,
});
