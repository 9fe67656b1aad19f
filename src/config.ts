import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { type ApiKeyEntry, parseKeyList } from './security/keys.js';
import { parseOrigins, parseTrustProxy } from './security/settings.js';

/**
 * Configuration from the environment, validated once at start-up. Every variable is documented in
 * the configuration table of docs/OPERATIONS.md; a bad value stops the process with a message naming it.
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
  /** Largest model artifact (or routing document) read, bytes; larger files and non-regular files are refused. */
  readonly maxArtifactBytes: number;
  /** A load of the model directory taking longer fails, keeping the models in service. */
  readonly modelLoadTimeoutMs: number;
  /** Most time warming each model before it serves, at start and on every reload (ms); 0: no warm-up. */
  readonly modelWarmupMs: number;
  /** Processes serving on the port: 1 runs in-process; more forks a cluster (src/cluster.ts). */
  readonly workers: number;
  /** Largest loan tape POST /pools/score reads, bytes (CSV, Freddie Mac or JSON). */
  readonly poolMaxBytes: number;
  /** Most rows (loans) in one tape of POST /pools/score. */
  readonly poolMaxRows: number;
  /** Worker threads scoring CSV and Freddie Mac tapes, shared by all tapes (1: on the event loop's thread). */
  readonly poolThreads: number;
  // --- Security (issue 9; SECURITY.md, plugins/security/): API keys, limits, timeouts, CORS. ---
  /** API keys from API_KEYS (`name:sha256-hex:scopes`, whitespace- or `;`-separated). */
  readonly apiKeys: readonly ApiKeyEntry[];
  /** A keys file (one entry a line), re-read on SIGHUP and POST /admin/keys/reload. */
  readonly apiKeysFile: string | undefined;
  /** Health and metrics routes: open to all, or only to keys with the `ops` scope. */
  readonly authOps: 'open' | 'protected';
  /** Requests per RATE_LIMIT_WINDOW_MS per API key (or client IP without one); 0: no rate limit. */
  readonly rateLimitMax: number;
  readonly rateLimitWindowMs: number;
  /** Browser origins allowed by CORS; empty: CORS closed (no Access-Control-* headers). */
  readonly corsOrigins: readonly string[];
  /** Fastify's trustProxy: take the client address from X-Forwarded-For. */
  readonly trustProxy: boolean | string;
  /** Whole request (headers and body) must arrive within this; 0: no limit. Answer: 408. */
  readonly requestTimeoutMs: number;
  /** A socket idle this long during a request is closed; 0: never. */
  readonly connectionTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  readonly keepAliveTimeoutMs: number;
  /** Shed load (503) while the mean event-loop delay exceeds this; 0: never shed. */
  readonly maxEventLoopDelayMs: number;
  /** On SIGTERM/SIGINT, how long in-flight requests may take before they are cut (exit 1). */
  readonly drainTimeoutMs: number;
}

/**
 * Time a tape needs to be scored once it has arrived: POOL_MAX_ROWS (2,000,000) rows at the ~200,000
 * rows/s the slowest shipped model scores on one core is 10 s; three times that for a loaded machine.
 */
const DRAIN_SCORING_MARGIN_MS = 30_000;
/** After DRAIN_TIMEOUT_MS, closing gets this long before the process exits anyway (src/server.ts). */
export const SHUTDOWN_FORCE_MARGIN_MS = 5000;

/** A top-level directory of the project (with a trailing slash), also when this file runs compiled from dist/. */
export function projectDir(name: string): string {
  return fileURLToPath(new URL(`../${name}/`, import.meta.url)).replace(new RegExp(`/dist/${name}/$`), `/${name}/`);
}

export const SHIPPED_MODEL_DIR = projectDir('model-artifacts');

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

/**
 * MODEL_WARMUP_MS: most time spent warming one model before it serves (runtime/warm.ts); 0 turns the
 * warm-up off. Read by the service and by the tape CLI (its worker threads' model copies).
 */
export function modelWarmupMs(env: Env = process.env): number {
  return integer(env, 'MODEL_WARMUP_MS', 5_000, 0, 600_000);
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
    maxArtifactBytes: integer(env, 'MAX_ARTIFACT_BYTES', 64 * 1024 * 1024, 1024, 2 * 1024 * 1024 * 1024),
    modelLoadTimeoutMs: integer(env, 'MODEL_LOAD_TIMEOUT_MS', 60_000, 100, 3_600_000),
    modelWarmupMs: modelWarmupMs(env),
    // Every core in production; one process elsewhere (tests, development).
    workers: integer(env, 'WORKERS', env.NODE_ENV === 'production' ? availableParallelism() : 1, 1, 256),
    // Tapes are streamed, never held whole: these bound the work one request can ask for.
    poolMaxBytes: integer(env, 'POOL_MAX_BYTES', 1024 * 1024 * 1024, 1024, 64 * 1024 * 1024 * 1024),
    poolMaxRows: integer(env, 'POOL_MAX_ROWS', 2_000_000, 1, 100_000_000),
    poolThreads: integer(env, 'POOL_THREADS', availableParallelism(), 1, 256),
    // --- Security (issue 9; SECURITY.md): authentication is off unless keys are configured. ---
    apiKeys: parsed(env, 'API_KEYS', [], parseKeyList),
    apiKeysFile: text(env, 'API_KEYS_FILE', '') || undefined,
    authOps: oneOf(env, 'AUTH_OPS', 'open', ['open', 'protected']),
    // Off by default (zero cost; a loopback benchmark is not limited); set it where clients are untrusted.
    rateLimitMax: integer(env, 'RATE_LIMIT_MAX', 0, 0, 1_000_000_000),
    rateLimitWindowMs: integer(env, 'RATE_LIMIT_WINDOW_MS', 60_000, 1000, 86_400_000),
    corsOrigins: parsed(env, 'CORS_ORIGINS', [], parseOrigins),
    trustProxy: parsed(env, 'TRUST_PROXY', false, parseTrustProxy),
    requestTimeoutMs: integer(env, 'REQUEST_TIMEOUT_MS', 120_000, 0, 3_600_000),
    connectionTimeoutMs: integer(env, 'CONNECTION_TIMEOUT_MS', 60_000, 0, 3_600_000),
    keepAliveTimeoutMs: integer(env, 'KEEP_ALIVE_TIMEOUT_MS', 72_000, 1, 3_600_000),
    // Load shedding in production (the image); off elsewhere, where tests block the loop on purpose.
    maxEventLoopDelayMs: integer(env, 'MAX_EVENT_LOOP_DELAY_MS', env.NODE_ENV === 'production' ? 200 : 0, 0, 60_000),
    drainTimeoutMs: integer(env, 'DRAIN_TIMEOUT_MS', defaultDrainTimeoutMs(env), 0, 3_600_000),
  };
}

/**
 * Long enough for the largest request the limits allow: a tape of POOL_MAX_BYTES arriving at the
 * slowest rate REQUEST_TIMEOUT_MS lets through (it must arrive within REQUEST_TIMEOUT_MS: 1 GiB in
 * 120 s is ~9 MB/s), then scored. Without a request timeout: 150 s.
 */
function defaultDrainTimeoutMs(env: Env): number {
  const requestTimeoutMs = integer(env, 'REQUEST_TIMEOUT_MS', 120_000, 0, 3_600_000);
  return (requestTimeoutMs > 0 ? requestTimeoutMs : 120_000) + DRAIN_SCORING_MARGIN_MS;
}

/** A variable read by `parse`, whose errors become a `ConfigError` naming the variable (security block). */
function parsed<T>(env: Env, name: string, fallback: T, parse: (raw: string) => T): T {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  try {
    return parse(raw);
  } catch (err) {
    throw new ConfigError(name, (err as Error).message);
  }
}
