// The two aedes cluster packages ship no types: only what the hub uses of them (issue 19).
declare module 'mqemitter-redis' {
  import type { MQEmitter } from 'mqemitter';
  export default function mqemitterRedis(opts: { connectionString: string }): MQEmitter;
}

declare module 'aedes-persistence-redis/asyncPersistence.js' {
  import type { Readable } from 'node:stream';
  import type { Redis } from 'ioredis';
  export default class AsyncRedisPersistence {
    constructor(opts: { conn: Redis; maxSessionDelivery?: number });
    outgoingStream(client: { id: string }): Readable;
    removeSubscriptions(client: { id: string }, topics: string[]): Promise<unknown>;
    destroy(): Promise<void>;
    createRetainedStreamCombi(patterns: string[]): AsyncIterable<unknown>;
    createRetainedStream(pattern: string): AsyncIterable<unknown>;
  }
}
