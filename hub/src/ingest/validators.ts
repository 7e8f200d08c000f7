import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { TSchema } from 'typebox';
import { StatusSchema } from '../contract/payloads.ts';
import type { AnyDeviceModel } from '../devices/models/index.ts';
import { schemaProblems } from '../grid/schema-problems.ts';

interface JsonSchemaLike {
  anyOf?: JsonSchemaLike[];
  properties?: Record<string, JsonSchemaLike & { const?: unknown }>;
}

export interface CompiledPayload {
  validate: ValidateFunction;
  /** for event unions discriminated by `type`: one validator per type, for precise errors */
  byType: Map<string, { validate: ValidateFunction; fields: Set<string> }> | undefined;
  fields: Set<string>;
}

export interface ModelValidators {
  event: CompiledPayload;
  telemetry: CompiledPayload;
}

/** Every payload schema compiled once at start (ajv), with defaults applied. */
export class PayloadValidators {
  private readonly ajv = new Ajv({ strict: false, allErrors: true, useDefaults: true });
  private readonly models = new Map<string, ModelValidators>();
  readonly status: CompiledPayload;

  constructor(models: readonly AnyDeviceModel[]) {
    for (const m of models) {
      this.models.set(m.id, {
        event: this.compile(m.eventSchema),
        telemetry: this.compile(m.telemetrySchema),
      });
    }
    this.status = this.compile(StatusSchema);
  }

  private compile(schema: TSchema): CompiledPayload {
    const s = schema as unknown as JsonSchemaLike;
    let byType: CompiledPayload['byType'];
    const fields = new Set(Object.keys(s.properties ?? {}));
    const members = s.anyOf ?? [];
    if (members.length > 0 && members.every((m) => typeof m.properties?.type?.const === 'string')) {
      byType = new Map(
        members.map((m) => [
          m.properties?.type?.const as string,
          { validate: this.ajv.compile(m), fields: new Set(Object.keys(m.properties ?? {})) },
        ]),
      );
    }
    return { validate: this.ajv.compile(schema), byType, fields };
  }

  forModel(modelId: string): ModelValidators | undefined {
    return this.models.get(modelId);
  }
}

export function describeErrors(errors: readonly ErrorObject[] | null | undefined): string {
  return schemaProblems(errors)
    .map((p) => `${p.path}: ${p.message}`)
    .join('; ');
}

/** Keep only the fields the schema names: unknown vendor fields never reach the rules. */
export function pick(value: Record<string, unknown>, fields: Set<string>): Record<string, unknown> {
  if (fields.size === 0) return value;
  const out: Record<string, unknown> = {};
  for (const f of fields) if (value[f] !== undefined) out[f] = value[f];
  return out;
}
