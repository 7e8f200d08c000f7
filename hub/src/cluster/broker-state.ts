import type { EventEmitter } from 'node:events';
import { Readable } from 'node:stream';
import AsyncRedisPersistence from 'aedes-persistence-redis/asyncPersistence.js';
import { Redis } from 'ioredis';
import type { MQEmitter } from 'mqemitter';
import mqemitterRedis from 'mqemitter-redis';
import type { BrokerPersistence } from '../broker/persistence/index.ts';
import type { Logger } from '../logger.ts';

/** How long a stop waits for Redis before it drops the connection. */
const STOP_WAIT_MS = 2000;

/** The promise, or nothing after `ms` (a stop must not hang on a Redis that is gone). */
export async function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((r) => {
    timer = setTimeout(() => r(undefined), ms);
  });
  try {
    return await Promise.race([p.catch(() => undefined), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * aedes 1.2 pipes the retained messages of a SUBSCRIBE (`stream.pipe`, handlers/subscribe.js) while
 * aedes-persistence-redis 12 returns an async generator there (its other streams go through
 * `pipeline`/`for await`, which take generators): a SUBSCRIBE threw out of aedes without this.
 */
class AedesRedisPersistence extends AsyncRedisPersistence {
  constructor(
    private readonly conn: Redis,
    queueLimit: number,
  ) {
    super({ conn, maxSessionDelivery: queueLimit });
  }

  /** Bounded: with Redis down, its unsubscribe would wait for a reconnect forever (and so would a stop). */
  override async destroy(): Promise<void> {
    // The package sends some writes without awaiting them (a will's LREM/RPUSH) and its destroy
    // drops the connection at once: one PING answered means every earlier command was answered,
    // so none of them is rejected unheard ("Connection is closed") by the disconnect.
    if (this.conn.status === 'ready') await within(this.conn.ping(), STOP_WAIT_MS);
    await within(super.destroy(), STOP_WAIT_MS);
    this.conn.disconnect();
  }

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
  private lastErrorLog = 0;

  constructor(
    private readonly url: string,
    private readonly queueLimit: number,
    private readonly log: Logger,
  ) {}

  /** A lost Redis is logged (every 10 s at most) and retried; an unheard 'error' would end the process. */
  private failed = (err: Error): void => {
    if (Date.now() - this.lastErrorLog < 10_000) return;
    this.lastErrorLog = Date.now();
    this.log.error({ err: err.message }, 'broker state: Redis connection failed; retrying');
  };

  emitter(): MQEmitter {
    const mq = mqemitterRedis({ connectionString: this.url });
    const inner = mq as unknown as { state: EventEmitter; subConn: Redis; pubConn: Redis };
    inner.state.on('error', this.failed);
    // Its close waits for both connections to QUIT, which never happens while Redis is down.
    const close = mq.close.bind(mq);
    mq.close = (cb?: () => void) => {
      let called = false;
      const finish = () => {
        if (called) return;
        called = true;
        cb?.();
      };
      close(finish);
      setTimeout(() => {
        inner.subConn.disconnect();
        inner.pubConn.disconnect();
        finish();
      }, STOP_WAIT_MS).unref();
    };
    return mq;
  }

  persistence(): BrokerPersistence {
    // Its own connection: destroy() quits it, the broker's stop owns that.
    const conn = new Redis(this.url, { maxRetriesPerRequest: null });
    conn.on('error', this.failed);
    const p = new AedesRedisPersistence(conn, this.queueLimit);
    return p as unknown as BrokerPersistence;
  }
}
