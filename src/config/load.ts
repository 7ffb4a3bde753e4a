// Loads the configuration: the YAML file (optional), then environment
// overrides on top, then validation against the schema. Problems come back as
// one line each, naming the key (and the variable that set it, if any).
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { configSchema, type Config } from './schema.js';
import { envName, envOverrides } from './env.js';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.join('\n')}`);
    this.name = 'ConfigError';
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) {
      delete out[key];
      continue;
    }
    out[key] = isPlainObject(value) && isPlainObject(out[key]) ? merge(out[key] as Record<string, unknown>, value) : value;
  }
  return out;
}

function valueAt(root: unknown, path: string[]): unknown {
  let node = root;
  for (const part of path) node = isPlainObject(node) ? node[part] : undefined;
  return node;
}

export interface LoadOptions {
  /** Path of the YAML file; none means environment variables and defaults only. */
  file?: string;
  env?: NodeJS.ProcessEnv;
}

export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  let fromFile: Record<string, unknown> = {};
  if (options.file) {
    let text: string;
    try {
      text = readFileSync(options.file, 'utf8');
    } catch (err) {
      throw new ConfigError([`${options.file}: cannot read the config file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
    }
    let parsed: unknown;
    try {
      parsed = parseYaml(text);
    } catch (err) {
      throw new ConfigError([`${options.file}: not valid YAML: ${(err as Error).message.split('\n')[0]}`]);
    }
    if (parsed !== null && parsed !== undefined && !isPlainObject(parsed)) {
      throw new ConfigError([`${options.file}: the top level must be a mapping of keys (xmpp:, store:, ...)`]);
    }
    fromFile = (parsed as Record<string, unknown> | null) ?? {};
  }
  const { values, used } = envOverrides(env);
  const merged = merge(fromFile, values);
  const result = configSchema.safeParse(merged);
  if (result.success) return Object.freeze(result.data) as Config;

  const problems = result.error.issues.map((issue) => {
    const path = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => `${[...path, key].join('.')}: unknown key`).join('\n');
    }
    const variable = envName(path);
    const source = used.includes(variable) ? ` (from ${variable})` : '';
    const hint = valueAt(merged, path) === undefined ? ` (set it in the config file or with ${variable})` : '';
    return `${path.join('.') || '(top level)'}${source}: ${issue.message}${hint}`;
  });
  throw new ConfigError(problems.flatMap((line) => line.split('\n')));
}
