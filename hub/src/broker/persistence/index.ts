import { join } from 'node:path';
import type { Readable } from 'node:stream';
import aedesPersistence from 'aedes-persistence';
import type { Config } from '../../config/schema.ts';
import type { Logger } from '../../logger.ts';
import type { Metrics } from '../../metrics.ts';
import { SqlitePersistence } from './sqlite-persistence.ts';

/**
 * What the hub itself asks of a broker persistence beyond aedes' use of it: read a session's queue
 * (so a re-send never duplicates what the broker already holds for that client), and close it.
 * Any aedes-persistence (memory, SQLite, later redis) has these.
 */
export interface BrokerPersistence {
  outgoingStream(client: { id: string }): Readable;
  removeSubscriptions(client: { id: string }, topics: string[]): Promise<unknown>;
  destroy(): Promise<void>;
  /** write pending changes now (write-behind persistences) */
  flush?(): void;
  /** false while the last write to disk failed (shown in /ready) */
  readonly healthy?: boolean;
}

/**
 * The broker persistence named by `mqtt.persistence`. The embedded default is our SQLite one
 * (docs/decisions.md); a cluster swaps in aedes-persistence-redis here, behind the same config key.
 */
export function createBrokerPersistence(
  config: Config['mqtt'],
  dataDir: string,
  metrics: Metrics,
  logger: Logger,
): BrokerPersistence {
  // aedes' own in-memory persistence (its CommonJS export is the factory itself)
  if (config.persistence === 'memory') return (aedesPersistence as unknown as () => BrokerPersistence)();
  // Logged at most every 10 s each: a full queue or a full disk repeats per message.
  let lastDropLog = 0;
  let lastFailureLog = 0;
  return new SqlitePersistence({
    file: join(dataDir, 'broker.sqlite'),
    flushMs: config.persistenceFlushMs,
    queueLimit: config.sessionQueueLimit,
    observer: {
      dropped: (clientId) => {
        metrics.mqttSessionDropped.inc();
        if (Date.now() - lastDropLog > 10_000) {
          lastDropLog = Date.now();
          logger.warn({ clientId, limit: config.sessionQueueLimit }, 'session queue full; oldest dropped');
        }
      },
      flushed: (rows) => metrics.mqttSessionWrites.inc({ outcome: 'written' }, rows),
      failed: (err) => {
        metrics.mqttSessionWrites.inc({ outcome: 'failed' });
        // Sessions stay in memory and the write is retried at every flush.
        if (Date.now() - lastFailureLog > 10_000) {
          lastFailureLog = Date.now();
          logger.error({ err }, 'writing broker sessions failed; kept in memory, retrying');
        }
      },
    },
  });
}
