/**
 * Reads a large community file off the event loop: parsing 10 MB of JSON takes a few hundred
 * milliseconds and YAML far longer, all in one synchronous call. The value goes back in slices,
 * one per request from the main thread, so that taking each in costs it only a millisecond or two.
 *
 * Started through community-reader-boot.mjs (TypeScript needs tsx's loader inside a worker).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { isGridhubError } from '../errors.ts';
import type { ReaderMessage, ReaderStart } from './community-reader.ts';
import { parseCommunityText } from './community-text.ts';

const SLICE = 1000;
const { bytes, format } = workerData as ReaderStart;
const port = parentPort as NonNullable<typeof parentPort>;

function* messages(): Generator<ReaderMessage> {
  let value: unknown;
  try {
    value = parseCommunityText(Buffer.from(bytes).toString('utf8'), format);
  } catch (err) {
    if (!isGridhubError(err)) throw err;
    yield { kind: 'problem', problem: { code: err.code, message: err.message } };
    return;
  }
  if (Array.isArray(value)) {
    // Not a community file whatever it holds: its validation says so without its items.
    yield { kind: 'head', head: [], sections: [] };
    return;
  }
  if (value === null || typeof value !== 'object') {
    yield { kind: 'head', head: value, sections: [] };
    return;
  }
  const record = value as Record<string, unknown>;
  const head: Record<string, unknown> = {};
  const sections: string[] = [];
  for (const [key, v] of Object.entries(record)) {
    if (Array.isArray(v)) {
      head[key] = [];
      sections.push(key);
    } else head[key] = v;
  }
  yield { kind: 'head', head, sections };
  for (const key of sections) {
    const items = record[key] as unknown[];
    for (let i = 0; i < items.length; i += SLICE)
      yield { kind: 'items', key, items: items.slice(i, i + SLICE) };
  }
}

const out = messages();
const next = () => {
  const m = out.next();
  port.postMessage(m.done ? ({ kind: 'end' } satisfies ReaderMessage) : m.value);
  if (m.done) port.close();
};
port.on('message', next);
next();
