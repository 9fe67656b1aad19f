import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

/**
 * Configuration from the environment, validated once at start-up. Every variable is documented in
 * the README's configuration table; a bad value stops the process with a message naming it.
 */
export interface Config {
  readonly port: number;
  readonly host: string;
  readonly modelDir: string;
  /** Routing document (pins, A/B splits, shadows); undefined: MODEL_DIR/routing.json when present. */
  readonly routingFile: string | undefined;
  readonly defaultModel: string;
  readonly maxBatch: number;
  readonly bodyLimit: number;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  readonly compileTrees: boolean;
  /** Processes serving on the port: 1 runs in-process; more forks a cluster (src/cluster.ts). */
  readonly workers: number;
  /** Largest loan tape POST /pools/score reads, bytes (CSV, Freddie Mac or JSON). */
  readonly poolMaxBytes: number;
  /** Most rows (loans) in one tape of POST /pools/score. */
  readonly poolMaxRows: number;
}

export const SHIPPED_MODEL_DIR = fileURLToPath(new URL('../model-artifacts/', import.meta.url)).replace(
  /\/dist\/model-artifacts\/$/,
  '/model-artifacts/',
);

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`invalid configuration: ${variable} ${problem}`);
  }
}

type Env = Readonly<Record<string, string | undefined>>;

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(name, `must be a whole number, got ${JSON.stringify(raw)}`);
  const n = Number(raw.trim());
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

function oneOf<T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[]): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(name, `must be one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
  }
  return raw as T;
}

function text(env: Env, name: string, fallback: string, pattern?: RegExp, what?: string): string {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (pattern && !pattern.test(raw)) throw new ConfigError(name, `must be ${what}, got ${JSON.stringify(raw)}`);
  return raw;
}

/** Reads and validates the configuration. Throws `ConfigError` naming the first bad variable. */
export function loadConfig(env: Env = process.env): Config {
  return {
    port: integer(env, 'PORT', 5000, 0, 65535),
    host: text(env, 'HOST', '127.0.0.1', /^[\w.:[\]-]+$/, 'a host name or IP address'),
    modelDir: text(env, 'MODEL_DIR', SHIPPED_MODEL_DIR),
    routingFile: env.ROUTING_FILE === undefined || env.ROUTING_FILE === '' ? undefined : env.ROUTING_FILE,
    defaultModel: text(env, 'DEFAULT_MODEL', 'xgboost', /^[a-z][a-z0-9_]*$/, 'a model name (lower case, digits, _)'),
    maxBatch: integer(env, 'MAX_BATCH', 10_000, 1, 1_000_000),
    bodyLimit: integer(env, 'BODY_LIMIT', 16 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    logLevel: oneOf(env, 'LOG_LEVEL', 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    compileTrees: oneOf(env, 'COMPILE_TREES', 'true', ['true', 'false']) === 'true',
    // Every core in production; one process elsewhere (tests, development).
    workers: integer(env, 'WORKERS', env.NODE_ENV === 'production' ? availableParallelism() : 1, 1, 256),
    // Tapes are streamed, never held whole: these bound the work one request can ask for.
    poolMaxBytes: integer(env, 'POOL_MAX_BYTES', 1024 * 1024 * 1024, 1024, 64 * 1024 * 1024 * 1024),
    poolMaxRows: integer(env, 'POOL_MAX_ROWS', 2_000_000, 1, 100_000_000),
  };
}
