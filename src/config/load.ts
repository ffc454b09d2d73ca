import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import { AppError } from '../shared/errors.js';
import { ConfigSchema, type Config } from './schema.js';

/** Names the environment variable that points at a JSON config file. */
export const CONFIG_FILE_ENV = 'COUNTERSIGN_CONFIG';
const ENV_PREFIX = 'COUNTERSIGN_';

interface Leaf {
  path: string[];
  env: string;
  type: 'string' | 'integer' | 'boolean';
}

const upperSnake = (name: string) => name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();

/** Every configurable key with its environment variable name. */
export function configKeys(): Leaf[] {
  const leaves: Leaf[] = [];
  const walk = (schema: Record<string, unknown>, path: string[]) => {
    const properties = schema.properties as Record<string, Record<string, unknown>> | undefined;
    if (schema.type === 'object' && properties) {
      for (const [name, child] of Object.entries(properties)) walk(child, [...path, name]);
      return;
    }
    const type = schema.type === 'integer' || schema.type === 'boolean' ? schema.type : 'string';
    leaves.push({ path, env: ENV_PREFIX + path.map(upperSnake).join('_'), type });
  };
  walk(ConfigSchema as unknown as Record<string, unknown>, []);
  return leaves;
}

const fail = (message: string): never => {
  throw new AppError('config_invalid', message, { status: 500 });
};

function parseEnvValue(leaf: Leaf, raw: string): unknown {
  if (leaf.type === 'integer') {
    if (!/^-?\d+$/.test(raw.trim())) fail(`${leaf.env}: expected a whole number, got "${raw}"`);
    return Number(raw.trim());
  }
  if (leaf.type === 'boolean') {
    const value = raw.trim().toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(value)) return true;
    if (['false', '0', 'no', 'off'].includes(value)) return false;
    return fail(`${leaf.env}: expected true or false, got "${raw}"`);
  }
  return raw;
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    return fail(`${path}: cannot read config file (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) fail(`${path}: config file must hold a JSON object`);
    return parsed as Record<string, unknown>;
  } catch (error) {
    if (error instanceof AppError) throw error;
    return fail(`${path}: config file is not valid JSON (${(error as Error).message})`);
  }
}

const keyOf = (error: ErrorObject): string => {
  const base = error.instancePath.replace(/^\//, '').replaceAll('/', '.');
  if (error.keyword === 'additionalProperties') {
    const extra = (error.params as { additionalProperty: string }).additionalProperty;
    return base ? `${base}.${extra}` : extra;
  }
  return base || '(root)';
};

const ajv = new Ajv({ useDefaults: true, allErrors: false, strict: false });
const validate = ajv.compile<Config>(ConfigSchema);

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

export interface LoadConfigOptions {
  /** Environment to read COUNTERSIGN_* from. */
  env?: NodeJS.ProcessEnv;
  /** Config file path; defaults to COUNTERSIGN_CONFIG from env. */
  file?: string;
  /** Values that win over file and environment (command-line flags, tests). */
  overrides?: Record<string, unknown>;
}

/** The http gateway needs a URL it can POST to and a body template that is a JSON object. */
const isHttpUrl = (value: string): boolean => {
  try {
    return ['http:', 'https:'].includes(new URL(value).protocol);
  } catch {
    return false;
  }
};

function checkApp(app: Config['app']): void {
  if (app.publicUrl && !isHttpUrl(app.publicUrl)) fail('config key app.publicUrl: must be an http:// or https:// URL');
  if (app.pushGateway === 'webhook' && !isHttpUrl(app.pushWebhookUrl)) fail('config key app.pushWebhookUrl: must be an http:// or https:// URL when app.pushGateway is webhook');
}

function checkHttpGateway(http: Config['telephony']['http']): void {
  let url: URL | null = null;
  try {
    url = new URL(http.url);
  } catch {
    // reported below
  }
  if (!url || !['http:', 'https:'].includes(url.protocol)) fail('config key telephony.http.url: must be an http:// or https:// URL when telephony.gateway is http');
  let template: unknown;
  try {
    template = JSON.parse(http.bodyTemplate);
  } catch {
    // reported below
  }
  if (template === null || typeof template !== 'object' || Array.isArray(template)) fail('config key telephony.http.bodyTemplate: must be a JSON object');
}

function checkTwilioGateway(twilio: Config['telephony']['twilio']): void {
  if (!/^AC[0-9a-fA-F]{32}$/.test(twilio.accountSid)) fail('config key telephony.twilio.accountSid: must be an account SID (AC and 32 hex digits) when telephony.gateway is twilio');
  if (!twilio.authToken) fail('config key telephony.twilio.authToken: required when telephony.gateway is twilio');
  if (!/^\+[1-9][0-9]{6,14}$/.test(twilio.from)) fail('config key telephony.twilio.from: must be a number in E.164 (+ and 7 to 15 digits) when telephony.gateway is twilio');
  for (const key of ['apiBaseUrl', 'publicUrl'] as const) {
    const value = twilio[key];
    if (key === 'publicUrl' && value === '') continue;
    let ok = false;
    try {
      ok = ['http:', 'https:'].includes(new URL(value).protocol);
    } catch {
      // reported below
    }
    if (!ok) fail(`config key telephony.twilio.${key}: must be an http:// or https:// URL`);
  }
}

/**
 * Builds the configuration: defaults, then the JSON file, then COUNTERSIGN_*
 * variables, then overrides. Unknown keys and bad values stop start-up with a
 * message naming the key. The result is deeply frozen.
 */
/** Variables of `countersign-authenticator`, which may share the server's environment. */
const AUTHENTICATOR_PREFIX = 'COUNTERSIGN_AUTHENTICATOR_';

export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? {};
  const file = options.file ?? env[CONFIG_FILE_ENV];
  const raw: Record<string, unknown> = file ? readConfigFile(file) : {};
  const leaves = configKeys();
  const known = new Set([CONFIG_FILE_ENV, ...leaves.map((leaf) => leaf.env)]);
  for (const name of Object.keys(env)) {
    // COUNTERSIGN_AUTHENTICATOR_*: the reference authenticator's own variables (docs/authenticator-protocol.md), not the server's.
    if (name.startsWith(ENV_PREFIX) && !name.startsWith(AUTHENTICATOR_PREFIX) && !known.has(name)) fail(`${name}: unknown configuration variable`);
  }
  for (const leaf of leaves) {
    const value = env[leaf.env];
    if (value !== undefined) setPath(raw, leaf.path, parseEnvValue(leaf, value));
  }
  mergeInto(raw, options.overrides ?? {});
  if (!validate(raw)) {
    const error = validate.errors![0]!;
    const message = error.keyword === 'additionalProperties' ? 'unknown key' : error.message ?? 'invalid value';
    fail(`config key ${keyOf(error)}: ${message}`);
  }
  const config = raw as Config;
  if (config.directory.pinMinLength > config.directory.pinMaxLength) {
    fail('config key directory.pinMinLength: must not exceed directory.pinMaxLength');
  }
  if (config.questions.askCount > config.questions.registerCount) {
    fail('config key questions.askCount: must not exceed questions.registerCount');
  }
  if (config.telephony.gateway === 'http') checkHttpGateway(config.telephony.http);
  if (config.telephony.gateway === 'twilio') checkTwilioGateway(config.telephony.twilio);
  checkApp(config.app);
  if (config.database.url && !/^(postgres(ql)?:\/\/|sqlite:)/.test(config.database.url)) {
    fail('config key database.url: must start with postgres://, postgresql:// or sqlite:');
  }
  return deepFreeze(config);
}

/**
 * Reads a file that a setting names (the telephony templates, the claim
 * issuers) with the reader of the module that owns its format, and turns
 * what goes wrong into the same refusal as a bad value in the config itself.
 * The reader's message starts with the key and the path ("telephony.templatesFile
 * /etc/texts.json: not valid JSON"). Config imports nothing but shared/, so it
 * cannot know those formats; the composition root reads each such file first,
 * before it creates or opens anything.
 */
export function readConfiguredFile<T>(read: () => T): T {
  try {
    return read();
  } catch (error) {
    return fail(`config key ${(error as Error).message}`);
  }
}

function mergeInto(target: Record<string, unknown>, source: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(source)) {
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      const child = typeof target[key] === 'object' && target[key] !== null ? target[key] : {};
      target[key] = child;
      mergeInto(child as Record<string, unknown>, value as Record<string, unknown>);
    } else if (value !== undefined) {
      target[key] = value;
    }
  }
}
