import { unwatchFile, watchFile } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import {
  type ApiKeyEntry,
  type ApiKeyIdentity,
  bearerToken,
  KeyListError,
  KeyRing,
  parseKeyList,
  type Scope,
} from '../../src/security/keys.js';
import { HttpError } from '../errors.js';
import { ErrorSchema } from '../schemas.js';
import { type AuthLevel, levelOfRequest, type ResolvedLevel, resolveLevel } from './levels.js';
import { hasUnreadBody, type RateLimitOutcome } from './limits.js';

/**
 * Authentication and authorisation with API keys (bearer tokens), and the per-request guard that
 * also applies the rate limit. See SECURITY.md.
 *
 * Off unless API_KEYS or API_KEYS_FILE is set (a loud warning when the service then listens on a
 * non-loopback address). When on, every route's `config.auth` (levels.ts) decides: `public` needs
 * nothing; `ops` needs the `ops` scope when AUTH_OPS=protected; `predict` and `admin` need their
 * scope. No key or an unknown one: 401 UNAUTHORIZED with `WWW-Authenticate: Bearer`; a key without
 * the scope: 403 FORBIDDEN naming it. The check runs in onRequest, before the body is read; a
 * refused request announcing a body over 64 KiB (or of unknown length) is answered with
 * `Connection: close`, so an anonymous client cannot make the service read a 1 GiB upload. The
 * key's name (never the token) is bound to the request's logger: the request line of every
 * authenticated request names its key (`"key"`), a refused one says why (`"auth"`).
 *
 * Rotation without a restart: API_KEYS_FILE is re-read on SIGHUP (`app.apiKeys.reload()`), on
 * POST /admin/keys/reload, and whenever it changes (polled every KEYS_FILE_POLL_MS, which also
 * reaches every worker of a cluster). A file that does not parse leaves the keys in use unchanged.
 */

/** How often each process checks API_KEYS_FILE for changes. */
const KEYS_FILE_POLL_MS = 2000;
const REALM = 'loan-default-service';

interface RouteAuth {
  readonly method: string;
  readonly url: string;
  readonly level: AuthLevel;
  readonly source: ResolvedLevel['source'];
}

type KeysReload =
  | { readonly ok: true; readonly keys: number; readonly names: readonly string[] }
  | { readonly ok: false; readonly code: string; readonly error: string; readonly keys: number };

interface ApiKeys {
  /** True when API keys are configured: routes other than `public` (and open `ops`) need one. */
  readonly enabled: boolean;
  /** Names of the keys in use. */
  names(): string[];
  /**
   * Re-reads API_KEYS_FILE and swaps the keys in use, or keeps them when the file does not parse.
   * Never rejects; logs the outcome. The one line for SIGHUP: `void app.apiKeys.reload()`.
   */
  reload(): Promise<KeysReload>;
  /** Every route with the level it gets (after `ready()`). */
  routes(): RouteAuth[];
}

declare module 'fastify' {
  interface FastifyInstance {
    apiKeys: ApiKeys;
  }
  interface FastifyRequest {
    /** The API key this request presented, when valid (only looked at where a key matters). */
    apiKey: ApiKeyIdentity | null;
  }
}

/** API_KEYS_FILE cannot be read: missing (ENOENT) or unreadable. Its keys are then revoked. */
class KeysFileUnreadable extends Error {
  readonly code: 'KEYS_FILE_MISSING' | 'KEYS_FILE_UNREADABLE';
  constructor(readonly reason: string) {
    super(`cannot read it (${reason})`);
    this.code = reason === 'ENOENT' ? 'KEYS_FILE_MISSING' : 'KEYS_FILE_UNREADABLE';
  }
}

/**
 * The header that marks a request to an admin route as not from a cross-site form (any value), for
 * requests without a JSON body: a form can send neither a custom header nor `application/json`, and
 * CORS keeps other sites' scripts from sending them. Checked with or without API keys.
 */
export const ADMIN_REQUEST_HEADER = 'x-requested-with';

/** True when a state-changing request could come from another site's form (no JSON, no admin header). */
function formLike(request: FastifyRequest): boolean {
  if (request.headers[ADMIN_REQUEST_HEADER] !== undefined) return false;
  const type = String(request.headers['content-type'] ?? '')
    .split(';')[0]
    ?.trim()
    .toLowerCase();
  return type !== 'application/json';
}

const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Merges API_KEYS and the keys file; a name or hash in both is an error. */
function merged(fromEnv: readonly ApiKeyEntry[], fromFile: readonly ApiKeyEntry[]): ApiKeyEntry[] {
  const names = new Set(fromEnv.map((e) => e.name));
  const hashes = new Set(fromEnv.map((e) => e.hash.toString('hex')));
  for (const e of fromFile) {
    if (names.has(e.name)) throw new KeyListError(`the name "${e.name}" is also in API_KEYS`);
    if (hashes.has(e.hash.toString('hex')))
      throw new KeyListError(`the key "${e.name}" has the hash of a key in API_KEYS`);
  }
  return [...fromEnv, ...fromFile];
}

function isLoopback(address: string): boolean {
  if (isIP(address) === 4) return address.startsWith('127.');
  return address === '::1' || address.startsWith('::ffff:127.');
}

const SCOPE_OF: Record<AuthLevel, Scope | null> = { public: null, ops: 'ops', predict: 'predict', admin: 'admin' };

export default fp(
  async (app: FastifyInstance) => {
    const settings = app.config;
    const file = settings.apiKeysFile;
    const enabled = settings.apiKeys.length > 0 || file !== undefined;
    const limit = app.rateLimitCheck;

    const readFileKeys = async (): Promise<ApiKeyEntry[]> => {
      if (file === undefined) return [];
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (err) {
        throw new KeysFileUnreadable((err as NodeJS.ErrnoException).code ?? (err as Error).message);
      }
      return parseKeyList(text);
    };
    let ring: KeyRing;
    try {
      ring = new KeyRing(merged(settings.apiKeys, await readFileKeys()));
    } catch (err) {
      throw new Error(`API_KEYS_FILE ${file}: ${(err as Error).message}`);
    }
    if (enabled) app.log.info({ keys: ring.names(), authOps: settings.authOps }, 'API keys: authentication is on');

    let reloading: Promise<unknown> = Promise.resolve();
    const reload = async (): Promise<KeysReload> => {
      if (!enabled) {
        return { ok: false, code: 'AUTH_NOT_CONFIGURED', error: 'no API keys are configured', keys: 0 };
      }
      if (file === undefined) {
        return {
          ok: false,
          code: 'KEYS_NOT_RELOADABLE',
          error: 'the keys come from API_KEYS alone: use API_KEYS_FILE to change keys without a restart',
          keys: ring.size,
        };
      }
      try {
        const next = new KeyRing(merged(settings.apiKeys, await readFileKeys()));
        ring = next;
        app.log.info({ keys: next.names() }, 'API keys reloaded');
        return { ok: true, keys: next.size, names: next.names() };
      } catch (err) {
        if (err instanceof KeysFileUnreadable) {
          // A deleted (or unreadable) file holds no valid key: its keys are revoked, never kept.
          ring = new KeyRing(settings.apiKeys);
          const error = `API_KEYS_FILE cannot be read (${err.reason}): its keys are revoked; requests with them get 401 until the file is back`;
          app.log.error({ keys: ring.names() }, error);
          return { ok: false, code: err.code, error, keys: ring.size };
        }
        const error = `API_KEYS_FILE: ${(err as Error).message}`;
        app.log.error({ error, keys: ring.names() }, 'API key reload failed: the keys in use are unchanged');
        return {
          ok: false,
          code: 'KEYS_RELOAD_FAILED',
          error: `${error}; the ${ring.size} keys in use are unchanged`,
          keys: ring.size,
        };
      }
    };
    // One read at a time, each after the one before: a change made during a reload is read too.
    const reloadOnce = () => {
      const next = reloading.then(reload);
      reloading = next;
      return next;
    };

    if (file !== undefined) {
      const onChange = (
        curr: { mtimeMs: number; ino: number; size: number },
        prev: { mtimeMs: number; ino: number; size: number },
      ) => {
        if (curr.mtimeMs !== prev.mtimeMs || curr.ino !== prev.ino || curr.size !== prev.size) void reloadOnce();
      };
      watchFile(file, { interval: KEYS_FILE_POLL_MS, persistent: false }, onChange);
      app.addHook('onClose', async () => {
        unwatchFile(file, onChange);
      });
    }

    const routes: { method: string; url: string; options: RouteOptions }[] = [];
    const levelOf = (route: { method: string; url: string; options: RouteOptions }) =>
      resolveLevel(route.method, route.url, route.options.config);

    app.decorateRequest('apiKey', null);
    app.decorate('apiKeys', {
      enabled,
      names: () => ring.names(),
      reload: reloadOnce,
      routes: () => routes.map((r) => ({ method: r.method, url: r.url, ...levelOf(r) })),
    } satisfies ApiKeys);

    const bind = (request: FastifyRequest, bindings: Record<string, string>) => {
      const log = request.log as { setBindings?: (b: Record<string, string>) => void };
      log.setBindings?.(bindings);
    };

    const refuse = (
      request: FastifyRequest,
      reply: FastifyReply,
      done: HookHandlerDoneFunction,
      status: 401 | 403 | 429,
      code: string,
      message: string,
    ) => {
      if (hasUnreadBody(request)) reply.header('connection', 'close');
      done(new HttpError(status, code, message));
    };

    const authorize = (
      request: FastifyRequest,
      reply: FastifyReply,
      done: HookHandlerDoneFunction,
      scope: Scope | null,
      problem: string | null,
    ) => {
      if (scope === null) return done();
      const key = request.apiKey;
      if (key === null) {
        bind(request, { auth: problem ?? 'missing' });
        const missing = problem === 'missing';
        reply.header('www-authenticate', `Bearer realm="${REALM}"${missing ? '' : ', error="invalid_token"'}`);
        return refuse(
          request,
          reply,
          done,
          401,
          'UNAUTHORIZED',
          missing
            ? `this route needs an API key with the "${scope}" scope: send Authorization: Bearer <token>`
            : 'the API key is not valid (unknown, revoked or malformed)',
        );
      }
      if (!key.scopes.has(scope)) {
        bind(request, { auth: 'forbidden' });
        reply.header('www-authenticate', `Bearer realm="${REALM}", error="insufficient_scope", scope="${scope}"`);
        return refuse(
          request,
          reply,
          done,
          403,
          'FORBIDDEN',
          `the API key "${key.name}" lacks the "${scope}" scope this route needs`,
        );
      }
      done();
    };

    const rateHeaders = (reply: FastifyReply, r: RateLimitOutcome) => {
      reply.header('x-ratelimit-limit', String(r.limit));
      reply.header('x-ratelimit-remaining', String(r.remaining));
      reply.header('x-ratelimit-reset', String(r.resetSeconds));
    };

    // Routes without a valid config.auth are named once, at their first request, as well as at ready.
    const warned = new WeakSet<object>();
    // The guard: an onRequest hook on every route (only when keys or a rate limit are configured),
    // after the security headers and load shedding. Order: identify → rate limit → authorise. A
    // global hook, not one added per route in onRoute, so that no route escapes it, however and
    // wherever it is declared. Unknown URLs go on to their 404.
    if (enabled || limit !== undefined) {
      app.addHook('onRequest', function securityGuard(request, reply, done) {
        const resolved = request.authLevel ?? levelOfRequest(request);
        if (resolved === undefined) return done(); // no route: its 404
        const level = resolved.level;
        if (resolved.source === 'default' && !warned.has(resolved)) {
          warned.add(resolved);
          app.log.warn(
            { route: `${request.method} ${request.routeOptions.url}` },
            'route without config.auth: treated as admin',
          );
        }
        const scope = !enabled || (level === 'ops' && settings.authOps === 'open') ? null : SCOPE_OF[level];
        const limited = limit !== undefined && level !== 'ops';
        if (scope === null && !limited) return done();
        let problem: string | null = null;
        const header = request.headers.authorization;
        if (enabled && (scope !== null || header !== undefined)) {
          const token = bearerToken(header);
          if (token === 'missing' || token === 'malformed') problem = token;
          else {
            const key = ring.verify(token);
            if (key === undefined) problem = 'invalid';
            else {
              request.apiKey = key;
              bind(request, { key: key.name });
            }
          }
        }
        if (!limited || limit === undefined) return authorize(request, reply, done, scope, problem);
        limit(request).then((r) => {
          rateHeaders(reply, r);
          if (r.exceeded) {
            const retry = Math.max(1, r.resetSeconds);
            reply.header('retry-after', String(retry));
            return refuse(
              request,
              reply,
              done,
              429,
              'RATE_LIMITED',
              `more than ${r.limit} requests in ${settings.rateLimitWindowMs / 1000} s from this ${request.apiKey ? 'API key' : 'address'}; retry in ${retry} s`,
            );
          }
          authorize(request, reply, done, scope, problem);
        }, done);
      });
    }

    // Admin routes, keys or not: a state-changing request needs a JSON body or ADMIN_REQUEST_HEADER,
    // so that a page on another site cannot make a visitor's browser reload models or keys.
    app.addHook('onRequest', function adminRequestGuard(request, reply, done) {
      if (SAFE_METHODS.has(request.method)) return done();
      const resolved = request.authLevel ?? levelOfRequest(request);
      if (resolved?.level !== 'admin' || !formLike(request)) return done();
      bind(request, { auth: 'admin-header' });
      refuse(
        request,
        reply,
        done,
        403,
        'ADMIN_HEADER_REQUIRED',
        `admin routes need a JSON body (Content-Type: application/json) or the ${ADMIN_REQUEST_HEADER} header (any value), so that a form on another site cannot call them`,
      );
    });

    // Every route and its level, for the start-up warning and app.apiKeys.routes(). Child plugins'
    // onRoute hooks may set `config` after this one (plugins/routes/ui.ts does): the options object
    // is read at ready, when it is final.
    app.addHook('onRoute', (options) => {
      const methods = Array.isArray(options.method) ? options.method : [options.method];
      routes.push({ method: methods.join(','), url: options.url, options });
    });

    app.addHook('onReady', async () => {
      const undeclared = routes.filter((r) => levelOf(r).source === 'default').map((r) => `${r.method} ${r.url}`);
      if (undeclared.length > 0) {
        app.log.warn(
          { routes: undeclared },
          'routes without config.auth: treated as admin (declare public, ops, predict or admin)',
        );
      }
    });

    app.addHook('onListen', async () => {
      if (enabled) return;
      const address = app.server.address();
      if (address === null || typeof address === 'string' || isLoopback(address.address)) return;
      app.log.warn(
        { address: address.address, port: address.port },
        `NO API KEYS: listening on ${address.address}:${address.port}, reachable from other machines, and every route is open to anyone. ` +
          'Set API_KEYS or API_KEYS_FILE (npm run key makes a key; see SECURITY.md), or listen on 127.0.0.1.',
      );
    });

    app.post(
      '/admin/keys/reload',
      {
        config: { auth: 'admin' },
        schema: {
          tags: ['admin'],
          summary: 'Re-read API_KEYS_FILE (key rotation without a restart)',
          response: { 409: ErrorSchema },
        },
      },
      async () => {
        const r = await reloadOnce();
        if (!r.ok) throw new HttpError(409, r.code, r.error);
        return {
          status: 'reloaded',
          keys: r.keys,
          names: r.names,
          note: `this process now uses the file's keys; other workers of a cluster re-read it within ${KEYS_FILE_POLL_MS / 1000} s`,
        };
      },
    );
  },
  { name: 'security-auth', dependencies: ['config', 'errors', 'security-limits'] },
);
