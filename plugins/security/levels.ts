import type { FastifyRequest } from 'fastify';

/**
 * Who may call a route. Every route declares `config: { auth: … }` in its options:
 *
 * - `public`: never needs a key (the web page, its assets, the OpenAPI document, Swagger UI);
 * - `ops`: health probes and metrics: open by default, a key with the `ops` scope when AUTH_OPS=protected;
 * - `predict`: scoring and model information: a key with the `predict` scope;
 * - `admin`: model and key management: a key with the `admin` scope.
 *
 * A route without a valid `config.auth` is treated as `admin` (fail closed) and named in a warning
 * at start-up; test/security/routes-auth.test.ts fails on it. Routes that third-party plugins
 * declare themselves (Swagger UI's, the CORS preflight) cannot carry the key: they are listed below.
 */

export const AUTH_LEVELS = ['public', 'ops', 'predict', 'admin'] as const;
export type AuthLevel = (typeof AUTH_LEVELS)[number];

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call this route (plugins/security/levels.ts). Missing: `admin`. */
    auth?: AuthLevel;
  }
  interface FastifyRequest {
    /** The route's level, set by the first security hook (headers.ts); null until then, or for a 404. */
    authLevel: ResolvedLevel | null;
  }
}

interface ThirdPartyRoute {
  /** The plugin that declares the routes. */
  readonly plugin: string;
  readonly method?: string;
  /** The route URL, or a prefix ending in `/` (which also covers the URL without the slash). */
  readonly url: string;
  readonly level: AuthLevel;
}

/** Routes declared by plugins whose route options we do not write. */
export const THIRD_PARTY_ROUTES: readonly ThirdPartyRoute[] = [
  // Swagger UI: the page, its assets, /docs/json and /docs/yaml (the same document as /openapi.json).
  { plugin: '@fastify/swagger-ui', url: '/docs/', level: 'public' },
  // The CORS preflight: answered by @fastify/cors before any route hook; browsers send no credentials.
  { plugin: '@fastify/cors', method: 'OPTIONS', url: '*', level: 'public' },
];

function isAuthLevel(value: unknown): value is AuthLevel {
  return typeof value === 'string' && (AUTH_LEVELS as readonly string[]).includes(value);
}

export function thirdPartyRoute(method: string, url: string): ThirdPartyRoute | undefined {
  return THIRD_PARTY_ROUTES.find(
    (r) =>
      (r.method === undefined || r.method === method) &&
      (r.url.endsWith('/') ? url.startsWith(r.url) || url === r.url.slice(0, -1) : url === r.url),
  );
}

export interface ResolvedLevel {
  readonly level: AuthLevel;
  /** declared: `config.auth`; third-party: the list above; default: missing or invalid, so `admin`. */
  readonly source: 'declared' | 'third-party' | 'default';
}

/** The level of a route from its final options. */
export function resolveLevel(method: string, url: string, config: unknown): ResolvedLevel {
  const declared = typeof config === 'object' && config !== null ? (config as { auth?: unknown }).auth : undefined;
  if (isAuthLevel(declared)) return { level: declared, source: 'declared' };
  if (declared === undefined) {
    const known = thirdPartyRoute(method, url);
    if (known) return { level: known.level, source: 'third-party' };
  }
  return { level: 'admin', source: 'default' };
}

const resolved = new WeakMap<object, ResolvedLevel>();

/**
 * The level of the route a request matched, from its final options (one config object per route,
 * resolved once); undefined for a request that matched no route (404).
 */
export function levelOfRequest(request: FastifyRequest): ResolvedLevel | undefined {
  if (request.is404) return undefined;
  const options = request.routeOptions;
  const config = options.config as object;
  let level = resolved.get(config);
  if (level === undefined) {
    level = resolveLevel(request.method, options.url ?? '', config);
    resolved.set(config, level);
  }
  return level;
}
