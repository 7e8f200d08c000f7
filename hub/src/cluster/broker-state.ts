import { Readable } from 'node:stream';
import AsyncRedisPersistence from 'aedes-persistence-redis/asyncPersistence.js';
import { Redis } from 'ioredis';
import type { MQEmitter } from 'mqemitter';
import mqemitterRedis from 'mqemitter-redis';
import type { BrokerPersistence } from '../broker/persistence/index.ts';

/**
 * aedes 1.2 pipes the retained messages of a SUBSCRIBE (`stream.pipe`, handlers/subscribe.js) while
 * aedes-persistence-redis 12 returns an async generator there (its other streams go through
 * `pipeline`/`for await`, which take generators): a SUBSCRIBE threw out of aedes without this.
 */
class AedesRedisPersistence extends AsyncRedisPersistence {
  override createRetainedStreamCombi(patterns: string[]): Readable {
    return Readable.from(super.createRetainedStreamCombi(patterns));
  }

  override createRetainedStream(pattern: string): Readable {
    return this.createRetainedStreamCombi([pattern]);
  }
}

/**
 * The broker's state on Redis in cluster mode (issue 19), as Aedes was designed to run on several
 * nodes: mqemitter-redis carries every publish to the nodes whose clients subscribed (and aedes'
 * own $SYS traffic: heartbeats, client-id takeover), aedes-persistence-redis keeps subscriptions,
 * retained messages, offline QoS 1 queues and wills where every node reads them.
 *
 * The persistence's async class is used directly: aedes 1.x calls its promise API (and
 * `setup()` must be an AsyncFunction); the package's default export wraps it for callback-era aedes.
 */
export class RedisBrokerState {
  constructor(
    private readonly url: string,
    private readonly queueLimit: number,
  ) {}

  emitter(): MQEmitter {
    return mqemitterRedis({ connectionString: this.url });
  }

  persistence(): BrokerPersistence {
    // Its own connection: destroy() quits it, the broker's stop owns that.
    const conn = new Redis(this.url, { maxRetriesPerRequest: null });
    const p = new AedesRedisPersistence({ conn, maxSessionDelivery: this.queueLimit });
    return p as unknown as BrokerPersistence;
  }
}
