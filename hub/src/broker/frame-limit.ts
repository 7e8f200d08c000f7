import { Transform, type TransformCallback } from 'node:stream';

export class FrameTooLargeError extends Error {
  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super(`MQTT packet of ${size} bytes exceeds the ${limit}-byte frame limit`);
  }
}

/**
 * Reads MQTT fixed headers (MQTT 3.1.1 §2.2.3: remaining length is a 1–4 byte varint) as bytes pass
 * and fails the stream before a packet larger than `limit` is buffered. aedes' parser has no such
 * cap, so without this a client could make the hub hold a 256 MB packet in memory.
 */
export class FrameLimit extends Transform {
  /** bytes still to skip of the current packet's body */
  private remaining = 0;
  /** a fixed header split across chunks */
  private header: number[] = [];

  constructor(private readonly limit: number) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.remaining > 0) {
        const step = Math.min(this.remaining, chunk.length - i);
        this.remaining -= step;
        i += step;
        continue;
      }
      this.header.push(chunk[i] as number);
      i++;
      if (this.header.length === 1) continue;
      const byte = this.header[this.header.length - 1] as number;
      if (byte & 0x80) {
        if (this.header.length > 4) return done(new Error('malformed MQTT remaining length'));
        continue;
      }
      let length = 0;
      for (let k = this.header.length - 1; k >= 1; k--)
        length = length * 128 + ((this.header[k] as number) & 0x7f);
      this.header = [];
      if (length > this.limit) return done(new FrameTooLargeError(length, this.limit));
      this.remaining = length;
    }
    done(null, chunk);
  }
}
