import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import type { TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { parse as parseYaml } from 'yaml';
import { GridhubError } from '../errors.ts';
import { type Config, ConfigSchema } from './schema.ts';

export const ENV_PREFIX = 'GRIDHUB_';

export interface ConfigKey {
  /** dotted path, e.g. `http.port` */
  path: string;
  env: string;
  type: string;
  default: unknown;
  description: string;
}

interface SchemaNode {
  type?: string;
  properties?: Record<string, SchemaNode>;
  enum?: unknown[];
  default?: unknown;
  description?: string;
}

function toEnvSegment(camel: string): string {
  return camel.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/** Every leaf key of the schema with its derived environment variable. */
export function configKeys(schema: TSchema = ConfigSchema): ConfigKey[] {
  const keys: ConfigKey[] = [];
  const walk = (node: SchemaNode, path: string[]): void => {
    if (node.type === 'object' && node.properties) {
      for (const [name, child] of Object.entries(node.properties)) walk(child, [...path, name]);
      return;
    }
    const type = node.enum ? node.enum.map((v) => JSON.stringify(v)).join(' \\| ') : (node.type ?? 'string');
    keys.push({
      path: path.join('.'),
      env: ENV_PREFIX + path.map(toEnvSegment).join('_'),
      type,
      default: node.default,
      description: node.description ?? '',
    });
  };
  walk(schema as SchemaNode, []);
  return keys;
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (typeof next !== 'object' || next === null) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1] as string] = value;
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new GridhubError('GH_ERR_CONFIG_INVALID', `config file ${file}: ${(err as Error).message}`);
  }
  const parsed: unknown = /\.ya?ml$/i.test(file) ? parseYaml(text) : JSON.parse(text);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new GridhubError('GH_ERR_CONFIG_INVALID', `config file ${file}: must contain an object`);
  }
  return parsed as Record<string, unknown>;
}

export interface LoadConfigOptions {
  env?: NodeJS.ProcessEnv;
  /** a JSON or YAML file; defaults to $GRIDHUB_CONFIG when set */
  file?: string | undefined;
  /** programmatic overrides applied last (tests, CLI flags) */
  overrides?: Record<string, unknown>;
}

const ajv = new Ajv({ allErrors: true, strict: false });
const validateConfig = ajv.compile<Config>(ConfigSchema);

/**
 * Merge defaults ← file ← environment ← overrides, then validate. Every problem is reported at
 * once as `path: message`, so an operator fixes a bad deployment in one go.
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const file = options.file ?? env[`${ENV_PREFIX}CONFIG`];
  const raw: Record<string, unknown> = file ? readConfigFile(file) : {};
  for (const key of configKeys()) {
    const value = env[key.env];
    if (value === undefined || value === '') continue;
    // Lists come from the environment comma-separated (GRIDHUB_OUTBOUND_ALLOW=10.0.0.0/8,relay.lan).
    const parsed =
      key.type === 'array'
        ? value
            .split(',')
            .map((v) => v.trim())
            .filter(Boolean)
        : value;
    setPath(raw, key.path, parsed);
  }
  for (const [path, value] of Object.entries(options.overrides ?? {})) setPath(raw, path, value);

  // Convert turns "8080" into 8080 and "true" into true; an unconvertible value stays a string
  // so that validation names the key.
  const candidate = Value.Default(ConfigSchema, Value.Convert(ConfigSchema, raw));
  if (!validateConfig(candidate)) {
    const problems = (validateConfig.errors ?? []).map((e) => {
      const path = e.instancePath.slice(1).replaceAll('/', '.') || '(root)';
      const extra = e.keyword === 'additionalProperties' ? ` '${String(e.params.additionalProperty)}'` : '';
      return `${path}: ${e.message ?? 'invalid'}${extra}`;
    });
    throw new GridhubError('GH_ERR_CONFIG_INVALID', `invalid configuration:\n  ${problems.join('\n  ')}`, {
      problems,
    });
  }
  return candidate;
}
