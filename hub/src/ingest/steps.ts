import type { KnownDevice } from '../broker/device-directory.ts';
import type { DeviceTopicKind } from '../contract/topics.ts';
import type { ModelCatalogue } from '../devices/models/index.ts';
import type { ErrorCode } from '../errors.ts';
import { describeErrors, type PayloadValidators, pick } from './validators.ts';

/** One message on its way through the steps. */
export interface Message {
  device: KnownDevice;
  kind: Exclude<DeviceTopicKind, 'command'>;
  topic: string;
  payload: Buffer;
  receivedAt: number;
  json: Record<string, unknown>;
  body: Record<string, unknown>;
  /** an empty retained publish on the status topic: the device clears its retained status */
  cleared: boolean;
  /** the device's `ts` was out of bounds and replaced by the receive time */
  clockCorrected: { ts: number } | undefined;
}

export type Rejection = { code: ErrorCode; reason: string };

export interface Step {
  name: string;
  run(m: Message): Rejection | undefined;
}

export interface StepOptions {
  maxPayloadBytes: number;
  /** a device `ts` further than this in the future is replaced by the receive time */
  maxClockAheadMs: number;
  /** a device `ts` older than this is replaced by the receive time */
  maxClockBehindMs: number;
  /** deeper JSON than this is refused before anything walks it */
  maxJsonDepth: number;
}

/** Nesting depth of JSON text, counted without parsing (so a hostile payload costs one pass). */
export function jsonDepth(text: string, stopAt: number): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92)
        i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      depth++;
      if (depth > max) {
        max = depth;
        if (max > stopAt) return max;
      }
    } else if (c === 125 || c === 93) depth--;
  }
  return max;
}

/** The ingest steps as data (STYLE.md §7): size, JSON, schema, vendor normalisation, device clock. */
export function ingestSteps(
  validators: PayloadValidators,
  models: ModelCatalogue,
  options: StepOptions,
): Step[] {
  return [
    {
      name: 'size',
      run: (m) =>
        m.payload.length > options.maxPayloadBytes
          ? {
              code: 'GH_ERR_PAYLOAD_TOO_LARGE',
              reason: `${m.payload.length} bytes > ${options.maxPayloadBytes}`,
            }
          : undefined,
    },
    {
      name: 'json',
      run: (m) => {
        if (m.kind === 'status' && m.payload.length === 0) {
          // An empty retained publish clears the device's retained status (MQTT-3.3.1-10): not an error.
          m.cleared = true;
          return undefined;
        }
        const text = m.payload.toString('utf8');
        if (jsonDepth(text, options.maxJsonDepth) > options.maxJsonDepth)
          return {
            code: 'GH_ERR_PAYLOAD_TOO_DEEP',
            reason: `nested deeper than ${options.maxJsonDepth} levels`,
          };
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch (err) {
          return { code: 'GH_ERR_PAYLOAD_NOT_JSON', reason: (err as Error).message };
        }
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
          return { code: 'GH_ERR_PAYLOAD_NOT_JSON', reason: 'payload must be a JSON object' };
        m.json = parsed as Record<string, unknown>;
        return undefined;
      },
    },
    {
      name: 'schema',
      run: (m) => {
        if (m.cleared) return undefined;
        if (m.kind === 'status') {
          const v = validators.status;
          if (!v.validate(m.json))
            return { code: 'GH_ERR_PAYLOAD_SCHEMA', reason: describeErrors(v.validate.errors) };
          m.body = pick(m.json, v.fields);
          return undefined;
        }
        const compiled = validators.forModel(m.device.modelId)?.[m.kind];
        if (!compiled) return { code: 'GH_ERR_MODEL_UNKNOWN', reason: `no model '${m.device.modelId}'` };
        if (compiled.byType) {
          const type = m.json.type;
          const member = typeof type === 'string' ? compiled.byType.get(type) : undefined;
          if (!member) {
            return {
              code: 'GH_ERR_EVENT_TYPE_UNKNOWN',
              reason: `event type ${JSON.stringify(type)} is not one of ${[...compiled.byType.keys()].join(', ')}`,
            };
          }
          if (!member.validate(m.json))
            return { code: 'GH_ERR_PAYLOAD_SCHEMA', reason: describeErrors(member.validate.errors) };
          m.body = pick(m.json, member.fields);
          return undefined;
        }
        if (!compiled.validate(m.json))
          return { code: 'GH_ERR_PAYLOAD_SCHEMA', reason: describeErrors(compiled.validate.errors) };
        m.body = pick(m.json, compiled.fields);
        return undefined;
      },
    },
    {
      name: 'normalise',
      run: (m) => {
        // Vendor polarity and codes are mapped to the generic payload here, never in rules.
        const model = models.find(m.device.modelId);
        const decode =
          m.kind === 'event'
            ? model?.decodeEvent
            : m.kind === 'telemetry'
              ? model?.decodeTelemetry
              : undefined;
        if (decode) m.body = decode(m.body);
        return undefined;
      },
    },
    {
      name: 'clock',
      run: (m) => {
        // A device clock that is wrong must not lose an alarm, nor put an impossible time into
        // shared views: the message is kept with the hub's receive time, flagged and counted.
        const ts = m.body.ts;
        if (typeof ts !== 'number') return undefined;
        if (ts > m.receivedAt + options.maxClockAheadMs || ts < m.receivedAt - options.maxClockBehindMs) {
          m.clockCorrected = { ts };
          m.body = { ...m.body, ts: m.receivedAt };
        }
        return undefined;
      },
    },
  ];
}
