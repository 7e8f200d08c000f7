import { Worker } from 'node:worker_threads';
import { GridhubError } from '../errors.ts';
import { timeSlicer } from '../yield.ts';
import { type CommunityFormat, parseCommunityText, type TextProblem } from './community-text.ts';

/** What the reader thread is given: the body's bytes (moved, not copied) and their format. */
export interface ReaderStart {
  bytes: ArrayBuffer;
  format: CommunityFormat;
}

/** What it answers, one message per request. */
export type ReaderMessage =
  | { kind: 'problem'; problem: TextProblem }
  | { kind: 'head'; head: unknown; sections: string[] }
  | { kind: 'items'; key: string; items: unknown[] }
  | { kind: 'end' };

/**
 * Texts up to these sizes are parsed on the event loop: measured on the project's 2-core machine,
 * 1 MiB of JSON parses in about 15 ms; YAML is about a hundred times slower per byte (the 8 KB
 * example community takes 10–30 ms). Anything larger is read by a worker thread.
 */
export const INLINE_BYTES: Record<CommunityFormat, number> = { json: 1 << 20, yaml: 16 << 10 };

/**
 * A community file's body as a value (not yet validated), or a GridhubError. A large body is decoded
 * and parsed in a worker thread (its bytes moved there, not copied) and taken back in slices with
 * yields between them, so reading a 10 MB file never holds the event loop for long.
 */
export async function readCommunityBody(
  body: Buffer,
  format: CommunityFormat,
  slice: () => Promise<void> = timeSlicer(),
): Promise<unknown> {
  if (body.length <= INLINE_BYTES[format]) return parseCommunityText(body.toString('utf8'), format);
  // Only a buffer that owns its whole memory can be moved; fastify's concatenated body does.
  const bytes =
    body.byteOffset === 0 && body.byteLength === body.buffer.byteLength && body.buffer instanceof ArrayBuffer
      ? body.buffer
      : new Uint8Array(body).buffer;
  const worker = new Worker(new URL('./community-reader-boot.mjs', import.meta.url), {
    workerData: { bytes, format } satisfies ReaderStart,
    transferList: [bytes],
    // a pathological document can exhaust the worker, never the hub's own heap or stack
    resourceLimits: { maxOldGenerationSizeMb: 1024, stackSizeMb: 8 },
  });
  try {
    let doc: unknown;
    const sections = new Map<string, unknown[]>();
    for (;;) {
      const m = await nextMessage(worker);
      if (m.kind === 'problem') throw new GridhubError(m.problem.code, m.problem.message);
      if (m.kind === 'end') return doc;
      if (m.kind === 'head') {
        doc = m.head;
        for (const key of m.sections)
          sections.set(key, (m.head as Record<string, unknown[]>)[key] as unknown[]);
      } else {
        const into = sections.get(m.key) as unknown[];
        for (const item of m.items) into.push(item);
      }
      await slice();
      worker.postMessage('next');
    }
  } finally {
    void worker.terminate();
  }
}

function nextMessage(worker: Worker): Promise<ReaderMessage> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: ReaderMessage) => {
      worker.off('error', onError);
      worker.off('exit', onExit);
      resolve(m);
    };
    const onError = (err: Error) => {
      worker.off('message', onMessage);
      worker.off('exit', onExit);
      reject(err);
    };
    const onExit = (code: number) => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      reject(new Error(`community reader exited with code ${code}`));
    };
    worker.once('message', onMessage);
    worker.once('error', onError);
    worker.once('exit', onExit);
  });
}
