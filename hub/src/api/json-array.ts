import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import type { TSchema } from 'typebox';
import { timeSlicer } from '../yield.ts';

/** Items serialised per batch: about a millisecond or two each. */
const BATCH = 100;

/**
 * A long JSON array answered as a stream: serialised a batch at a time with the route's own
 * serializer for `arraySchema` (the same output as a whole-response serialisation), with yields
 * between batches. Serialising a city's 135,000 grid nodes in one call holds the event loop for
 * hundreds of milliseconds, 1,000 devices for tens. Lists shorter than `streamFrom` go through the
 * route's serializer as usual. `arraySchema` must be one object per route (serializers are cached
 * by it).
 */
export function jsonArray<T>(reply: FastifyReply, items: T[], arraySchema: TSchema, streamFrom = 1000): T[] {
  if (items.length < streamFrom) return items;
  send(reply, '', items, arraySchema, '');
  return reply as unknown as T[];
}

/** The same for an object with one long array field (`{ total, items }`), which comes last. */
export function jsonWithArray<T extends Record<string, unknown>, K extends keyof T & string>(
  reply: FastifyReply,
  value: T,
  key: K,
  arraySchema: TSchema,
  streamFrom = 250,
): T {
  const items = value[key] as unknown[];
  if (items.length < streamFrom) return value;
  const { [key]: _, ...rest } = value;
  const head = JSON.stringify(rest);
  send(
    reply,
    `${head.length > 2 ? `${head.slice(0, -1)},` : '{'}${JSON.stringify(key)}:`,
    items,
    arraySchema,
    '}',
  );
  return reply as unknown as T;
}

function send(
  reply: FastifyReply,
  before: string,
  items: unknown[],
  arraySchema: TSchema,
  after: string,
): void {
  const serialize = (batch: unknown[]) =>
    reply.serializeInput(batch as never, arraySchema as unknown as Record<string, unknown>);
  async function* parts(): AsyncGenerator<string> {
    const slice = timeSlicer();
    yield `${before}[`;
    for (let i = 0; i < items.length; i += BATCH) {
      yield `${i > 0 ? ',' : ''}${serialize(items.slice(i, i + BATCH)).slice(1, -1)}`;
      await slice();
    }
    yield `]${after}`;
  }
  // Sent: fastify ignores what a handler returns once the reply is sent.
  void reply.type('application/json; charset=utf-8').send(Readable.from(parts()));
}
