import type { ValidateFunction } from 'ajv';
import type { CommandAckPayload } from '../contract/payloads.ts';
import { schemaProblems } from '../grid/schema-problems.ts';

/**
 * The few facts the broker needs about a command on the wire, without the command service: its id
 * and whether its time ran out. Payloads are the hub's own (TOPICS.command), so a cheap text check
 * comes before any parse.
 */
export function commandIdOf(payload: Buffer | string): string | undefined {
  try {
    const id = (JSON.parse(payload.toString()) as { commandId?: unknown }).commandId;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

export function commandTypeOf(payload: Buffer | string): string | undefined {
  try {
    const type = (JSON.parse(payload.toString()) as { type?: unknown }).type;
    return typeof type === 'string' ? type : undefined;
  } catch {
    return undefined;
  }
}

export function commandExpired(payload: Buffer | string, now: number): boolean {
  if (!payload.includes('"expiresAt"')) return false;
  try {
    const at = (JSON.parse(payload.toString()) as { expiresAt?: unknown }).expiresAt;
    return typeof at === 'number' && at <= now;
  } catch {
    return false;
  }
}

/** A device's cmd/ack, or why it is refused. */
export function parseAck(
  payload: Buffer,
  valid: ValidateFunction<CommandAckPayload>,
): CommandAckPayload | { code: 'GH_ERR_PAYLOAD_NOT_JSON' | 'GH_ERR_PAYLOAD_SCHEMA'; reason: string } {
  let ack: unknown;
  try {
    ack = JSON.parse(payload.toString('utf8'));
  } catch {
    return { code: 'GH_ERR_PAYLOAD_NOT_JSON', reason: 'cmd/ack payload is not JSON' };
  }
  if (valid(ack)) return ack;
  const why = schemaProblems(valid.errors).map((p) => `${p.path}: ${p.message}`);
  return { code: 'GH_ERR_PAYLOAD_SCHEMA', reason: why.join('; ') };
}
