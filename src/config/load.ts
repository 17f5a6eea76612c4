// Reads the YAML file, applies INTERSLICE__SECTION__KEY environment overrides and validates
// the result once; every problem is reported with the key that caused it.
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { configSchema, type Config } from './schema.js';

export class ConfigError extends Error {
  constructor(readonly problems: string[], source: string) {
    super(`invalid configuration (${source}):\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

export const ENV_PREFIX = 'INTERSLICE__';

type Tree = Record<string, unknown> | unknown[];

/** Finds the existing key that matches `segment` case-insensitively (env names are upper case). */
function matchKey(node: Tree, segment: string, schemaKeys: string[]): string | number {
  if (Array.isArray(node)) {
    const idx = Number(segment);
    if (!Number.isInteger(idx) || idx < 0) throw new Error(`"${segment}" is not a list index`);
    return idx;
  }
  const known = [...Object.keys(node), ...schemaKeys].find((k) => k.toLowerCase() === segment.toLowerCase());
  return known ?? segment;
}

/** Every key name the schema knows, at any depth, so an override can set a key absent from the file. */
function schemaKeys(schema: unknown, out = new Set<string>()): Set<string> {
  // zod 4 keeps each wrapper's definition in _zod.def: objects have a shape, arrays an element,
  // and defaults, prefaults, nullables and unions wrap inner types.
  const def = (schema as { _zod?: { def?: Record<string, unknown> } })?._zod?.def;
  if (!def) return out;
  if (def.shape && typeof def.shape === 'object') {
    for (const [k, v] of Object.entries(def.shape as Record<string, unknown>)) {
      out.add(k);
      schemaKeys(v, out);
    }
  }
  for (const inner of [def.innerType, def.element, def.in, def.out]) if (inner) schemaKeys(inner, out);
  if (Array.isArray(def.options)) for (const o of def.options) schemaKeys(o, out);
  return out;
}

const SCHEMA_KEYS = [...schemaKeys(configSchema)];

/** Applies environment overrides in place; returns the variables used (names only, for the log). */
export function applyEnvOverrides(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): string[] {
  const used: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || value === undefined) continue;
    const segments = name.slice(ENV_PREFIX.length).split('__').filter(Boolean);
    if (segments.length === 0) continue;
    let node: Tree = raw;
    for (let i = 0; i < segments.length; i++) {
      const key = matchKey(node, segments[i], SCHEMA_KEYS);
      const last = i === segments.length - 1;
      const container = node as Record<string | number, unknown>;
      if (last) {
        container[key] = parseYaml(value);
      } else {
        if (typeof container[key] !== 'object' || container[key] === null) container[key] = {};
        node = container[key] as Tree;
      }
    }
    used.push(name);
  }
  return used;
}

export interface LoadedConfig {
  config: Config;
  source: string;
  envOverrides: string[];
}

export const DEFAULT_CONFIG_PATH = 'config/default.yaml';

/** The file a command's --config names; the default file missing means the embedded defaults. */
export function configPath(option: string): string | undefined {
  return option === DEFAULT_CONFIG_PATH && !existsSync(option) ? undefined : option;
}

/** Loads and validates. `path` undefined = built-in defaults only (plus environment). */
export function loadConfig(path: string | undefined, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  let raw: Record<string, unknown> = {};
  const source = path ?? '(embedded defaults)';
  if (path) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new ConfigError([`cannot read ${path}: ${(e as Error).message}`], source);
    }
    try {
      raw = (parseYaml(text) as Record<string, unknown>) ?? {};
    } catch (e) {
      throw new ConfigError([`YAML syntax: ${(e as Error).message}`], source);
    }
    if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(['the top level must be a mapping'], source);
  }
  let envOverrides: string[];
  try {
    envOverrides = applyEnvOverrides(raw, env);
  } catch (e) {
    throw new ConfigError([`environment override: ${(e as Error).message}`], source);
  }
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const key = issue.path.join('.') || '(top level)';
      return `${key}: ${issue.message}`;
    });
    throw new ConfigError(problems, source);
  }
  return { config: result.data, source, envOverrides };
}
