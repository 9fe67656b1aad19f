import cors from '@fastify/cors';
import helmet, { type FastifyHelmetOptions } from '@fastify/helmet';
import Fastify from 'fastify';
import fp from 'fastify-plugin';
import { levelOfRequest } from './levels.js';

/**
 * Response hardening: helmet's security headers on every response, and CORS, closed unless
 * CORS_ORIGINS lists the browser origins allowed to call the API.
 *
 * Headers: @fastify/helmet builds a new helmet() middleware on every request (measured: ~3.3 µs of
 * construction, plus an async hook, for a ~50 µs request), yet with our options (no CSP nonces) its
 * output is the same for every response. So at start-up this plugin asks @fastify/helmet for the
 * headers once, on a private instance, and the hot path copies that set onto each reply: helmet's
 * full set for what a browser renders, a short strict set for the JSON API (below).
 *
 * The policy suits Swagger UI at /docs and the web page at / (scripts and stylesheets from the same
 * origin, inline style attributes, data: images): helmet's defaults, without `upgrade-insecure-requests`,
 * because the service itself speaks plain HTTP (TLS ends in front of it) and that directive would
 * send a browser reaching it over http:// to https:// for every asset.
 */

/** For what a browser renders: `public` routes (Swagger UI, the web page, their assets) and 404s. */
export const HELMET_OPTIONS: FastifyHelmetOptions = {
  contentSecurityPolicy: {
    useDefaults: true,
    directives: { 'upgrade-insecure-requests': null },
  },
};

/**
 * For the JSON API (routes declared `ops`, `predict` or `admin`, and undeclared ones, which count as
 * `admin`: an undeclared page shows itself by rendering nothing): nothing in a response may run,
 * load, be framed or be read cross-origin by a page; the headers that only shape documents
 * (Origin-Agent-Cluster, COOP, X-DNS-Prefetch-Control, X-Download-Options, …) are left out. Five
 * headers instead of twelve, ~0.4 KiB less on every answer of the hot path.
 */
export const API_HELMET_OPTIONS: FastifyHelmetOptions = {
  contentSecurityPolicy: {
    useDefaults: false,
    directives: { 'default-src': ["'none'"], 'frame-ancestors': ["'none'"] },
  },
  crossOriginOpenerPolicy: false,
  originAgentCluster: false,
  xDnsPrefetchControl: false,
  xDownloadOptions: false,
  xFrameOptions: false,
  xPermittedCrossDomainPolicies: false,
  xXssProtection: false,
};

const API_LEVELS: ReadonlySet<unknown> = new Set(['ops', 'predict', 'admin']);

/** The headers @fastify/helmet sets with `options`, read from one response of a private instance. */
export async function helmetHeaders(options: FastifyHelmetOptions = HELMET_OPTIONS): Promise<Record<string, string>> {
  const probe = Fastify({ logger: false });
  await probe.register(helmet, options);
  // Helmet writes to the raw response before the handler runs: its headers are exactly these.
  probe.get('/', (_request, reply) => {
    reply.send(reply.raw.getHeaders());
  });
  const res = await probe.inject('/');
  await probe.close();
  const headers = res.json() as Record<string, string | string[] | number>;
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers))
    out[name] = Array.isArray(value) ? value.join(', ') : String(value);
  if (!out['content-security-policy'] || !out['x-content-type-options']) {
    throw new Error('@fastify/helmet set no Content-Security-Policy / X-Content-Type-Options: its API changed');
  }
  return out;
}

export default fp(
  async (app) => {
    const document = Object.entries(await helmetHeaders(HELMET_OPTIONS));
    const api = Object.entries(await helmetHeaders(API_HELMET_OPTIONS));
    // The set for each route, by its level (levels.ts); the first hook of every request, so that
    // refusals (401, 429, 503) carry the headers too. It leaves the level on the request for auth.ts.
    app.decorateRequest('authLevel', null);
    app.addHook('onRequest', (request, reply, done) => {
      const level = levelOfRequest(request);
      let set = document;
      if (level !== undefined) {
        request.authLevel = level;
        if (API_LEVELS.has(level.level)) set = api;
      }
      for (let i = 0; i < set.length; i++) {
        const header = set[i] as [string, string];
        reply.header(header[0], header[1]);
      }
      done();
    });

    const origins = app.config.corsOrigins;
    if (origins.length > 0) {
      await app.register(cors, {
        origin: origins[0] === '*' ? '*' : [...origins],
        methods: ['GET', 'HEAD', 'POST'],
        allowedHeaders: ['authorization', 'content-type', 'accept', 'x-request-id'],
        exposedHeaders: [
          'x-request-id',
          'retry-after',
          'x-ratelimit-limit',
          'x-ratelimit-remaining',
          'x-ratelimit-reset',
          'x-pool-model',
          'x-pool-scenario',
          'x-pool-format',
          'x-pool-lgd',
          'x-pool-rows',
          'x-pool-loan-count',
          'x-pool-rows-rejected',
          'x-pool-total-original-upb',
          'x-pool-average-pd',
          'x-pool-upb-weighted-pd',
          'x-pool-expected-loss',
        ],
        // Bearer tokens, never cookies: no credentialed CORS.
        credentials: false,
        maxAge: 600,
      });
    }
  },
  { name: 'security-headers', dependencies: ['config'] },
);
