import { readFileSync, existsSync } from 'node:fs';
import { Kind, type TSchema, type TObject } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { MedwardError, ErrorKind } from '../errors.js';
import { ConfigSchema, type MedwardConfig } from './schema.js';

export const ENV_PREFIX = 'MEDWARD_';
export const DEFAULT_CONFIG_FILE = 'medward.yaml';

/**
 * MEDWARD_* variables that are not configuration keys: the configuration
 * file, and the admin API token that CLI commands calling a running medward
 * send.
 */
const NON_CONFIG_ENV = new Set(['MEDWARD_CONFIG', 'MEDWARD_TOKEN']);

export interface LoadConfigOptions {
  /**
   * YAML file to read; MEDWARD_CONFIG, then ./medward.yaml if it exists, when
   * omitted. False reads no file, so tests ignore a user's ./medward.yaml.
   */
  file?: string | false;
  env?: NodeJS.ProcessEnv;
  /** Values applied over the file and the environment, for tests and the CLI. */
  overrides?: Record<string, unknown>;
}

export interface ConfigProblem {
  key: string;
  message: string;
}

function configError(problems: ConfigProblem[], source: string): MedwardError {
  const lines = problems.map((problem) => `  ${problem.key}: ${problem.message}`);
  return new MedwardError(
    ErrorKind.Invalid,
    'CONFIG_INVALID',
    `invalid configuration (${source}):\n${lines.join('\n')}`,
    { details: { problems } },
  );
}

/** `api.bodyLimitBytes` becomes MEDWARD_API__BODY_LIMIT_BYTES. */
export function envNameFor(path: readonly string[]): string {
  return (
    ENV_PREFIX +
    path.map((segment) => segment.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('__')
  );
}

function childSchema(schema: TSchema, key: string): TSchema | undefined {
  if (schema[Kind] !== 'Object') {
    return undefined;
  }
  return (schema as TObject).properties[key];
}

/** Finds the config path for an environment variable name by walking the schema. */
function resolveEnvPath(name: string): { path: string[]; schema: TSchema } | undefined {
  const segments = name.slice(ENV_PREFIX.length).split('__');
  const path: string[] = [];
  let schema: TSchema = ConfigSchema;
  for (const segment of segments) {
    if (schema[Kind] !== 'Object') {
      return undefined;
    }
    const key = Object.keys((schema as TObject).properties).find(
      (candidate) => envNameFor([candidate]) === ENV_PREFIX + segment,
    );
    if (key === undefined) {
      return undefined;
    }
    path.push(key);
    const next = childSchema(schema, key);
    if (next === undefined) {
      return undefined;
    }
    schema = next;
  }
  return { path, schema };
}

/** Parses JSON text; returns the text itself when it is not JSON, so validation names the value. */
function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

/**
 * Reads a list from an environment variable: a JSON array, or items
 * separated by commas (`a,b`), each read as the list's item type. An empty
 * value is an empty list.
 */
function coerceEnvList(raw: string, schema: TSchema): unknown {
  const trimmed = raw.trim();
  if (trimmed.startsWith('[')) {
    return parseJson(trimmed);
  }
  if (trimmed === '') {
    return [];
  }
  const items = schema.items as TSchema | undefined;
  return trimmed
    .split(',')
    .map((item) => (items === undefined ? item.trim() : coerceEnvValue(item.trim(), items)));
}

function coerceEnvValue(raw: string, schema: TSchema): unknown {
  switch (schema[Kind]) {
    case 'Integer':
    case 'Number':
      return raw.trim() !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
    case 'Boolean':
      return raw === 'true' ? true : raw === 'false' ? false : raw;
    case 'Array':
      return coerceEnvList(raw, schema);
    case 'Object':
      // A whole section or a list item's fields, as a JSON object.
      return raw.trim().startsWith('{') ? parseJson(raw.trim()) : raw;
    case 'Union': {
      // A key that takes one value or a list of them (enforcement.kind).
      const list = (schema.anyOf as TSchema[] | undefined)?.find(
        (member) => member[Kind] === 'Array',
      );
      const looksLikeList = raw.trim().startsWith('[') || raw.includes(',');
      return list !== undefined && looksLikeList ? coerceEnvList(raw, list) : raw;
    }
    default:
      return raw;
  }
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const segment of path.slice(0, -1)) {
    const next = node[segment];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) {
      node[segment] = {};
    }
    node = node[segment] as Record<string, unknown>;
  }
  const last = path[path.length - 1];
  if (last !== undefined) {
    node[last] = value;
  }
}

function readYaml(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new MedwardError(
      ErrorKind.Invalid,
      'CONFIG_FILE_UNREADABLE',
      `cannot read configuration file ${file}: ${(error as Error).message}`,
      { cause: error, details: { file } },
    );
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (error) {
    throw new MedwardError(
      ErrorKind.Invalid,
      'CONFIG_FILE_INVALID_YAML',
      `configuration file ${file} is not valid YAML: ${(error as Error).message}`,
      { cause: error, details: { file } },
    );
  }
  if (parsed === null || parsed === undefined) {
    return {};
  }
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw configError([{ key: '(root)', message: 'must be a mapping of sections' }], file);
  }
  return parsed as Record<string, unknown>;
}

function describeExpected(schema: TSchema): string {
  if (schema[Kind] === 'Union' && Array.isArray(schema.anyOf)) {
    const members = schema.anyOf as TSchema[];
    const single = members.find((member) => member[Kind] === 'Union');
    const list = members.find((member) => member[Kind] === 'Array');
    if (single !== undefined && list !== undefined) {
      // One value or a list of them, such as enforcement.kind.
      return `${describeExpected(single)}, or a list of them`;
    }
    const values = members.map((member) => JSON.stringify(member.const));
    return `one of ${values.join(', ')}`;
  }
  const parts: string[] = [String(schema.type ?? schema[Kind]).toLowerCase()];
  if (typeof schema.minimum === 'number' && typeof schema.maximum === 'number') {
    parts.push(`from ${schema.minimum} to ${schema.maximum}`);
  }
  if (typeof schema.minLength === 'number') {
    parts.push(`of at least ${schema.minLength} characters`);
  }
  if (typeof schema.pattern === 'string') {
    parts.push(`matching ${schema.pattern}`);
  }
  return parts.join(' ');
}

function collectProblems(value: unknown): ConfigProblem[] {
  const problems = new Map<string, ConfigProblem>();
  for (const error of Value.Errors(ConfigSchema, value)) {
    const key = error.path.replace(/^\//, '').replaceAll('/', '.') || '(root)';
    if (problems.has(key)) {
      continue;
    }
    const segments = key.split('.');
    const isUnknownKey = error.message.includes('Unexpected property');
    // Secrets are not echoed into logs; the key names the value to check.
    const isSecret = /token|secret|password|passphrase/i.test(segments.at(-1) ?? '');
    const got = isSecret ? 'a value that is not accepted (hidden)' : JSON.stringify(error.value);
    const notJson =
      typeof error.value === 'string' && /^\s*[[{]/.test(error.value) ? ' (not valid JSON)' : '';
    // Variables name whole keys, never one item of a list.
    const topKey = segments.findIndex((segment) => /^\d+$/.test(segment));
    const settable = topKey === -1 ? segments : segments.slice(0, topKey);
    const message = isUnknownKey
      ? `unknown key; remove it or check its spelling`
      : `got ${got}${notJson}, expected ${describeExpected(error.schema)} ` +
        `(set it in the YAML file or ${envNameFor(settable)})`;
    problems.set(key, { key, message });
  }
  return [...problems.values()];
}

/**
 * Puts the SQLite file into `dataDir` when no storage URL was set, so moving
 * the data directory moves the database with the keys and the CA.
 */
function placeDatabaseInDataDir(
  raw: Record<string, unknown>,
  config: Record<string, unknown>,
): void {
  const storage = raw.storage as Record<string, unknown> | undefined;
  const dataDir = config.dataDir;
  const target = config.storage as Record<string, unknown> | undefined;
  if (storage?.url !== undefined || typeof dataDir !== 'string' || target === undefined) {
    return;
  }
  target.url = `sqlite:${dataDir.replace(/\/+$/, '')}/medward.db`;
}

/**
 * Loads the configuration from the YAML file, then MEDWARD_* environment
 * variables (nested keys joined by a double underscore), then overrides, and
 * validates the result against the schema. Any unknown key or invalid value
 * stops with a CONFIG_INVALID error that names every bad key.
 */
export function loadConfig(options: LoadConfigOptions = {}): MedwardConfig {
  const env = options.env ?? process.env;
  const file =
    options.file ??
    env.MEDWARD_CONFIG ??
    (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : false);
  const raw: Record<string, unknown> = file === false ? {} : readYaml(file);

  const envProblems: ConfigProblem[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || NON_CONFIG_ENV.has(name) || value === undefined) {
      continue;
    }
    if (name.startsWith('MEDWARD_TEST_')) {
      continue;
    }
    const resolved = resolveEnvPath(name);
    if (resolved === undefined) {
      envProblems.push({ key: name, message: 'environment variable matches no configuration key' });
      continue;
    }
    setPath(raw, resolved.path, coerceEnvValue(value, resolved.schema));
  }
  for (const [key, value] of Object.entries(options.overrides ?? {})) {
    setPath(raw, key.split('.'), value);
  }
  const source = file === false ? 'defaults and environment' : `${file} and environment`;
  if (envProblems.length > 0) {
    throw configError(envProblems, source);
  }

  const withDefaults = Value.Default(ConfigSchema, Value.Clone(raw)) as Record<string, unknown>;
  placeDatabaseInDataDir(raw, withDefaults);
  const problems = collectProblems(withDefaults);
  if (problems.length > 0) {
    throw configError(problems, source);
  }
  return withDefaults as MedwardConfig;
}
