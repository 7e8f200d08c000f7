/**
 * Vendor payloads as data (issue 20): a model record may declare how its binary frame (the APPdata
 * of an NB-IoT unit, the FRMPayload of a LoRaWAN sensor) or its vendor JSON maps to the hub's
 * payload. The decoder below is the only code; a new vendor is a new record of offsets, lengths,
 * scales and code tables.
 */

/** One number in a frame. */
export interface FrameField {
  /** hub field name (telemetry field, or an event field such as `smokeDensity`) */
  name: string;
  offset: number;
  /** bytes: 1, 2 or 4 */
  length: 1 | 2 | 4;
  signed?: boolean;
  /** byte order of multi-byte fields (default big: most NB-IoT and LoRaWAN vendors send network order) */
  endian?: 'big' | 'little';
  /** value = raw × scale + add (default 1 and 0) */
  scale?: number;
  add?: number;
  /** keep only these bits of the raw value, then shift right */
  mask?: number;
  shift?: number;
  /**
   * A code table: raw value → fields merged into the message (e.g. 0x08 → `{type:'selftest',
   * result:'ok'}`). A raw value not in the table refuses the frame (GH_ERR_INGRESS_DECODE), so an
   * unknown alarm code is seen, never guessed.
   */
  codes?: Record<number, Record<string, string | number | boolean>>;
  /** a raw value meaning "not measured": the field is left out */
  absent?: number;
}

/** The layout of one frame type. */
export interface FrameLayout {
  /** what the frame is: an event (needs a `type` from a code table) or a periodic reading */
  kind: 'event' | 'telemetry';
  /** shortest valid frame of this type, bytes */
  minLength: number;
  fields: FrameField[];
}

export interface ByteFrameSpec {
  /** how the platform hands the frame over when it does not say (CTWing APPdata: base64; OneNET value: hex) */
  encoding?: 'hex' | 'base64';
  /** bytes every frame starts with, as hex (e.g. 'a5'); a frame without them is refused */
  magic?: string;
  /** the byte that selects the layout */
  selector: { offset: number };
  frames: Record<number, FrameLayout>;
}

/** Vendor JSON (a ChirpStack codec's `object`, a CTWing product's JSON payload, OneNET data streams). */
export interface JsonMapping {
  /** vendor field → hub field */
  rename?: Record<string, string>;
  /** hub field → code table: vendor value (as text) → fields merged into the message */
  codes?: Record<string, Record<string, Record<string, string | number | boolean>>>;
}

export type Decoded =
  | { ok: true; kind: 'event' | 'telemetry'; fields: Record<string, unknown> }
  | { ok: false; reason: string };

/** Bytes from the platform's text: hex (with or without spaces) or Base64. */
export function frameBytes(text: string, encoding: 'hex' | 'base64'): Buffer | undefined {
  if (encoding === 'hex') {
    const hex = text.replace(/\s+/g, '');
    if (hex.length === 0 || hex.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(hex)) return undefined;
    return Buffer.from(hex, 'hex');
  }
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(text) || text.length === 0) return undefined;
  return Buffer.from(text, 'base64');
}

function readField(bytes: Buffer, f: FrameField): number {
  const big = (f.endian ?? 'big') === 'big';
  switch (f.length) {
    case 1:
      return f.signed ? bytes.readInt8(f.offset) : bytes.readUInt8(f.offset);
    case 2:
      if (f.signed) return big ? bytes.readInt16BE(f.offset) : bytes.readInt16LE(f.offset);
      return big ? bytes.readUInt16BE(f.offset) : bytes.readUInt16LE(f.offset);
    case 4:
      if (f.signed) return big ? bytes.readInt32BE(f.offset) : bytes.readInt32LE(f.offset);
      return big ? bytes.readUInt32BE(f.offset) : bytes.readUInt32LE(f.offset);
  }
}

/** Decode one frame with a model's spec. */
export function decodeFrame(spec: ByteFrameSpec, bytes: Buffer): Decoded {
  const hex = bytes.toString('hex');
  if (spec.magic && !hex.startsWith(spec.magic.toLowerCase()))
    return { ok: false, reason: `frame ${hex.slice(0, 16)} does not start with ${spec.magic}` };
  if (bytes.length <= spec.selector.offset)
    return { ok: false, reason: `frame of ${bytes.length} bytes has no type byte` };
  const type = bytes.readUInt8(spec.selector.offset);
  const layout = spec.frames[type];
  if (!layout) return { ok: false, reason: `unknown frame type 0x${type.toString(16).padStart(2, '0')}` };
  if (bytes.length < layout.minLength)
    return {
      ok: false,
      reason: `frame type 0x${type.toString(16)} needs ${layout.minLength} bytes, got ${bytes.length}`,
    };
  const fields: Record<string, unknown> = {};
  for (const f of layout.fields) {
    if (f.offset + f.length > bytes.length) continue; // optional tail of a longer firmware's frame
    let raw = readField(bytes, f);
    if (f.mask !== undefined) raw = (raw & f.mask) >>> (f.shift ?? 0);
    if (f.absent !== undefined && raw === f.absent) continue;
    if (f.codes) {
      const entry = f.codes[raw];
      if (!entry) return { ok: false, reason: `${f.name}: unknown code ${raw} (0x${raw.toString(16)})` };
      Object.assign(fields, entry);
      continue;
    }
    // Round away binary noise of the scale (0.1 × 3 = 0.30000000000000004).
    fields[f.name] = Math.round((raw * (f.scale ?? 1) + (f.add ?? 0)) * 1e6) / 1e6;
  }
  if (layout.kind === 'event' && typeof fields.type !== 'string')
    return { ok: false, reason: 'event frame without an event type (code table)' };
  return { ok: true, kind: layout.kind, fields };
}

/** Map vendor JSON to the hub's fields; a message with a `type` after mapping is an event. */
export function applyMapping(mapping: JsonMapping | undefined, vendor: Record<string, unknown>): Decoded {
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(vendor)) fields[mapping?.rename?.[k] ?? k] = v;
  for (const [field, table] of Object.entries(mapping?.codes ?? {})) {
    if (!(field in fields)) continue;
    const entry = table[String(fields[field])];
    if (!entry) return { ok: false, reason: `${field}: unknown code ${JSON.stringify(fields[field])}` };
    delete fields[field];
    Object.assign(fields, entry);
  }
  return { ok: true, kind: typeof fields.type === 'string' ? 'event' : 'telemetry', fields };
}
