// Environment-variable overrides, derived from the schema so that every key
// has one and the list can never drift: the path xmpp.secret becomes
// PONTE_XMPP_SECRET, store.encryptionKey PONTE_STORE_ENCRYPTION_KEY. Lists are
// comma-separated; booleans are true/false (also 1/0, yes/no). A variable set
// to the empty string clears the key, so its default applies (e.g. an empty
// PONTE_STORE_URL selects the embedded store over a URL in the file).
import type { z } from 'zod';
import { configSchema } from './schema.js';

export type LeafKind = 'string' | 'number' | 'boolean' | 'enum' | 'array';

export interface ConfigKey {
  path: string[];
  env: string;
  kind: LeafKind;
}

interface ZodInternals {
  _zod: { def: { type: string; innerType?: z.ZodType; in?: z.ZodType; shape?: Record<string, z.ZodType> } };
}

function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema as unknown as ZodInternals;
  for (;;) {
    const def = current._zod.def;
    if (def.innerType) current = def.innerType as unknown as ZodInternals;
    else if (def.type === 'pipe' && def.in) current = def.in as unknown as ZodInternals;
    else return current as unknown as z.ZodType;
  }
}

export function envName(path: string[]): string {
  return ['PONTE', ...path.map((part) => part.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase())].join('_');
}

function collect(schema: z.ZodType, path: string[], out: ConfigKey[]): void {
  const inner = unwrap(schema) as unknown as ZodInternals;
  const def = inner._zod.def;
  if (def.type === 'object' && def.shape) {
    for (const [key, child] of Object.entries(def.shape)) collect(child, [...path, key], out);
    return;
  }
  const kind: LeafKind = def.type === 'number' || def.type === 'boolean' || def.type === 'enum' || def.type === 'array' ? def.type : 'string';
  out.push({ path, env: envName(path), kind });
}

/** Every configuration key, in schema order, with its environment variable. */
export const CONFIG_KEYS: readonly ConfigKey[] = (() => {
  const out: ConfigKey[] = [];
  collect(configSchema, [], out);
  return out;
})();

function convert(raw: string, kind: LeafKind): unknown {
  switch (kind) {
    case 'number': {
      const n = Number(raw.trim());
      return raw.trim() !== '' && Number.isFinite(n) ? n : raw; // leave a bad value for the schema to report
    }
    case 'boolean': {
      const v = raw.trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(v)) return true;
      if (['false', '0', 'no', 'off'].includes(v)) return false;
      return raw;
    }
    case 'array':
      return raw
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== '');
    default:
      return raw;
  }
}

/** The overrides present in `env`, as a nested object shaped like the config file. */
export function envOverrides(env: NodeJS.ProcessEnv): { values: Record<string, unknown>; used: string[] } {
  const values: Record<string, unknown> = {};
  const used: string[] = [];
  for (const key of CONFIG_KEYS) {
    const raw = env[key.env];
    if (raw === undefined) continue;
    used.push(key.env);
    let node = values;
    for (const part of key.path.slice(0, -1)) {
      node = (node[part] ??= {}) as Record<string, unknown>;
    }
    node[key.path[key.path.length - 1]!] = raw === '' ? undefined : convert(raw, key.kind);
  }
  return { values, used };
}
