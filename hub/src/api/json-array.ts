import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { timeSlicer } from '../yield.ts';

/** Lists at least this long are streamed; shorter ones go through the route's serializer. */
export const STREAM_FROM = 1000;
const BATCH = 500;

/**
 * A long JSON array answered as a stream, written a batch of items at a time with yields between:
 * serialising a city's 135,000 grid nodes in one call holds the event loop for hundreds of
 * milliseconds. The items must already have their response schema's shape (the views the routes
 * build do), since a stream bypasses the route's serializer. Short lists are returned as they are.
 */
export function jsonArray<T>(reply: FastifyReply, items: T[]): T[] {
  if (items.length < STREAM_FROM) return items;
  void reply.type('application/json; charset=utf-8').send(Readable.from(batches(items)));
  // Sent: fastify ignores what a handler returns once the reply is sent; the type is the schema's.
  return reply as unknown as T[];
}

async function* batches(items: readonly unknown[]): AsyncGenerator<string> {
  const slice = timeSlicer();
  yield '[';
  for (let i = 0; i < items.length; i += BATCH) {
    const text = JSON.stringify(items.slice(i, i + BATCH));
    yield `${i > 0 ? ',' : ''}${text.slice(1, -1)}`;
    await slice();
  }
  yield ']';
}
