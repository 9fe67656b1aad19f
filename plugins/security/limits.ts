import rateLimit from '@fastify/rate-limit';
import underPressure, { type FastifyUnderPressureOptions } from '@fastify/under-pressure';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { HttpError } from '../errors.js';

/**
 * Limits on what one client, and all of them together, can ask for:
 *
 * - load shedding (@fastify/under-pressure): while the mean event-loop delay over the last sample
 *   exceeds MAX_EVENT_LOOP_DELAY_MS, requests are answered at once with 503 OVERLOADED and
 *   Retry-After instead of queueing without bound. Liveness (/health/live, and the Open Inference
 *   Protocol's /v2/health/live) and /metrics are never shed, so a busy pod is not restarted for
 *   being busy and stays observable; readiness is shed (503), taking the pod out of the Service
 *   until the pressure passes. Health routes and /metrics are never rate limited either.
 * - rate limiting (@fastify/rate-limit, off unless RATE_LIMIT_MAX > 0): RATE_LIMIT_MAX requests per
 *   RATE_LIMIT_WINDOW_MS per API key, or per client address for requests without a valid key;
 *   answered 429 RATE_LIMITED with Retry-After. The check itself runs in the guard of auth.ts (an
 *   onRequest hook, before the body is read), after the caller is identified and before
 *   authorisation, so that failed key attempts count against their address.
 *
 * Body size (BODY_LIMIT), batch size (MAX_BATCH) and tape limits (POOL_MAX_BYTES, POOL_MAX_ROWS) are
 * enforced where the bodies are read (src/app.ts, plugins/routes/predict.ts, plugins/routes/pools.ts).
 */

/** How often under-pressure samples the event loop; the shedding decision holds until the next sample. */
export const PRESSURE_SAMPLE_MS = 500;
/** Retry-After of a shed request, seconds. */
export const OVERLOAD_RETRY_AFTER_S = 2;
/** Routes answered even under pressure. */
const NEVER_SHED: ReadonlySet<string> = new Set(['/health/live', '/v2/health/live', '/metrics']);

/** Readiness routes, answered 503 in their own shape (their response schemas) while shedding. */
const READINESS_WHEN_SHED: Readonly<Record<string, object>> = {
  '/health/ready': { status: 'overloaded' },
  '/v2/health/ready': { ready: false }, // Open Inference Protocol
};

export interface RateLimitOutcome {
  readonly limit: number;
  readonly remaining: number;
  readonly resetSeconds: number;
  readonly exceeded: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Counts one request against its key's (or address's) budget; undefined when rate limiting is off. */
    rateLimitCheck: ((request: FastifyRequest) => Promise<RateLimitOutcome>) | undefined;
  }
}

/** Bodies up to this size are read and dropped after a refusal; the connection stays open. */
const DRAIN_LIMIT_BYTES = 64 * 1024;

/**
 * True when a request refused before its body was read announces a body too large to read and drop
 * (over DRAIN_LIMIT_BYTES, or of unknown length): answer it with `Connection: close` instead, so that
 * a refused client cannot make the service read a 1 GiB upload. Small bodies keep the connection.
 */
export function hasUnreadBody(request: FastifyRequest): boolean {
  const h = request.headers;
  if (h['transfer-encoding'] !== undefined) return true;
  const length = h['content-length'];
  return length !== undefined && !(Number(length) <= DRAIN_LIMIT_BYTES);
}

function rateLimitKey(request: FastifyRequest): string {
  return request.apiKey ? `key:${request.apiKey.name}` : `ip:${request.ip}`;
}

export default fp(
  async (app: FastifyInstance) => {
    const { maxEventLoopDelayMs, rateLimitMax, rateLimitWindowMs } = app.config;

    if (maxEventLoopDelayMs > 0) {
      // Loading the models blocks the event loop for a while before the app is ready: the first
      // sample after it would shed the first requests of a fresh process. Armed two samples later.
      let armed = false;
      app.addHook('onReady', async () => {
        setTimeout(() => {
          armed = true;
        }, 2 * PRESSURE_SAMPLE_MS).unref();
      });
      let shedSince = 0;
      let lastLog = 0;
      const message = `the service is overloaded (event-loop delay over ${maxEventLoopDelayMs} ms); retry in ${OVERLOAD_RETRY_AFTER_S} s`;
      // under-pressure sends what this returns (a value), or continues (undefined), or fails the
      // request (a rejected promise: our error handler answers it).
      const shed = (request: FastifyRequest, reply: FastifyReply, type: string, value: number | undefined): unknown => {
        if (!armed || NEVER_SHED.has(request.routeOptions.url ?? '')) return undefined;
        shedSince++;
        const now = Date.now();
        if (now - lastLog >= 1000) {
          app.log.warn({ pressure: type, value, shed: shedSince }, 'overloaded: shedding requests');
          lastLog = now;
          shedSince = 0;
        }
        reply.code(503).header('retry-after', String(OVERLOAD_RETRY_AFTER_S));
        if (hasUnreadBody(request)) reply.header('connection', 'close');
        // Readiness answers in its own shape: the pod leaves the Service until the pressure passes.
        const readiness = READINESS_WHEN_SHED[request.routeOptions.url ?? ''];
        if (readiness !== undefined) return readiness;
        return Promise.reject(new HttpError(503, 'OVERLOADED', message));
      };
      await app.register(underPressure, {
        maxEventLoopDelay: maxEventLoopDelayMs,
        sampleInterval: PRESSURE_SAMPLE_MS,
        // Called only while under pressure: a resolved promise lets the request through.
        pressureHandler: shed as FastifyUnderPressureOptions['pressureHandler'],
      });
    }

    let check: FastifyInstance['rateLimitCheck'];
    if (rateLimitMax > 0) {
      // global: false: no per-route hooks; the guard (auth.ts) calls the limiter at the right point.
      await app.register(rateLimit, {
        global: false,
        max: rateLimitMax,
        timeWindow: rateLimitWindowMs,
        keyGenerator: rateLimitKey,
        cache: 10_000,
      });
      const limiter = app.createRateLimit();
      check = async (request) => {
        const r = await limiter(request);
        if (r.isAllowed) return { limit: rateLimitMax, remaining: rateLimitMax, resetSeconds: 0, exceeded: false };
        return { limit: r.max, remaining: r.remaining, resetSeconds: r.ttlInSeconds, exceeded: r.isExceeded };
      };
    }
    app.decorate('rateLimitCheck', check);
  },
  { name: 'security-limits', dependencies: ['config', 'errors'] },
);
