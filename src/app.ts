import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify';
import configPlugin from '../plugins/config.js';
import errors from '../plugins/errors.js';
import lifecycle from '../plugins/lifecycle.js';
import metrics from '../plugins/metrics.js';
import modelLoader from '../plugins/model-loader.js';
import { familyPlugin } from '../plugins/models/family-plugin.js';
import openapi from '../plugins/openapi.js';
import registry from '../plugins/registry.js';
import admin from '../plugins/routes/admin.js';
import backtest from '../plugins/routes/backtest.js';
import health from '../plugins/routes/health.js';
import lifetime from '../plugins/routes/lifetime.js';
import models from '../plugins/routes/models.js';
import pools from '../plugins/routes/pools.js';
import predict from '../plugins/routes/predict.js';
import scenarios from '../plugins/routes/scenarios.js';
import ui from '../plugins/routes/ui.js';
import v2 from '../plugins/routes/v2.js';
import securityAuth from '../plugins/security/auth.js';
import securityHeaders from '../plugins/security/headers.js';
import securityLimits from '../plugins/security/limits.js';
import serving from '../plugins/serving.js';
import type { Config } from './config.js';
import type { LogStream } from './log-stream.js';
import { RequestLines } from './request-log.js';
import { FAMILIES } from './runtime/index.js';
import { clientErrorHandler, httpServerTimeouts } from './security/client-errors.js';
import { parseJsonBody } from './security/json-body.js';
import { requestIdGenerator } from './security/request-id.js';
import { boundedValidatorCompiler } from './security/validator.js';
import { SERVICE_VERSION } from './version.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The server's log stream (its dropped lines are a metric), or null when logs go elsewhere. */
    logStream: LogStream | null;
  }
}

interface BuildOptions {
  /**
   * Fastify's logger option; default: JSON logs at config.logLevel, to `logStream` when given (else
   * stdout). Not both: `logStream` is where the logger writes.
   */
  readonly logger?: FastifyServerOptions['logger'];
  /**
   * The server's LogStream: logs at config.logLevel in pino's default format go there, and request
   * lines are kept as fields and formatted in batches (src/request-log.ts), the same bytes for less
   * CPU. Without it each request line goes through `request.log` at once.
   */
  readonly logStream?: LogStream;
}

/**
 * Builds the application without listening. Plugins are registered in an explicit order:
 * config → lifecycle → errors → model registry → one plugin per model family → loader → metrics → OpenAPI →
 * routes. `await app.ready()` (or listen) rejects if an artifact is broken.
 */
export function buildApp(config: Config, options: BuildOptions = {}): FastifyInstance {
  const app = Fastify({
    logger: options.logger ?? { level: config.logLevel, ...(options.logStream ? { stream: options.logStream } : {}) },
    bodyLimit: config.bodyLimit,
    // The client's x-request-id when it is short and printable, else one made here (src/security/request-id.ts).
    requestIdHeader: false,
    genReqId: requestIdGenerator('x-request-id'),
    // One line per request (below) instead of Fastify's two: each line costs a write.
    logController: new LogController({ disableRequestLogging: true }),
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    // Loading the models (their warm-up included) is bounded by MODEL_LOAD_TIMEOUT_MS, which says why it
    // failed; Fastify's own 10 s plugin timeout must not cut a slow but healthy start short before that.
    pluginTimeout: config.modelLoadTimeoutMs + 10_000,
    // Security (issue 9): timeouts, client address behind proxies, errors for requests that never reach a route.
    requestTimeout: config.requestTimeoutMs,
    connectionTimeout: config.connectionTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    http: httpServerTimeouts(config.requestTimeoutMs),
    clientErrorHandler: clientErrorHandler(config.requestTimeoutMs),
    trustProxy: config.trustProxy,
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.decorate('logStream', options.logStream ?? null);
  // Ajv with every error named, at a cost bounded for huge invalid bodies (src/security/validator.ts).
  app.setValidatorCompiler(boundedValidatorCompiler());

  // JSON only (CSV arrives with pool scoring): a text/plain body gets 415, not a confusing 400.
  app.removeContentTypeParser('text/plain');
  // Fastify's JSON parsing, with answers that say why a body is refused (src/security/json-body.ts).
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, parseJsonBody);
  // First of the onRequest hooks, so that every answer carries the id, guard refusals (401, 403, 429, 503) included.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
  app.register(configPlugin, { config });
  app.register(lifecycle);
  app.register(errors);
  app.register(securityHeaders); // helmet headers, CORS
  app.register(securityLimits); // load shedding, rate limiter
  app.register(securityAuth); // API keys; the per-route guard (rate limit + authorisation)
  app.register(registry);
  for (const family of FAMILIES) app.register(familyPlugin(family));
  app.register(modelLoader);
  app.register(metrics);
  app.register(serving);
  app.register(openapi);
  app.register(health);
  app.register(models);
  app.register(scenarios);
  app.register(predict, { maxBatch: config.maxBatch });
  app.register(pools, { maxBytes: config.poolMaxBytes, maxRows: config.poolMaxRows });
  app.register(backtest, { maxBytes: config.poolMaxBytes, maxRows: config.poolMaxRows });
  app.register(lifetime, { maxBytes: config.poolMaxBytes, maxRows: config.poolMaxRows });
  app.register(admin);
  app.register(v2, { prefix: '/v2', maxBatch: config.maxBatch, serverVersion: SERVICE_VERSION });
  app.register(ui);

  // The request line: method, URL, status and time; never a body. Written only when info is enabled
  // (LOG_LEVEL is fixed at start-up); on the server's stream, kept and formatted in batches.
  const logRequests = ['trace', 'debug', 'info'].includes(config.logLevel);
  const requestLines = logRequests && options.logStream ? RequestLines.attach(app.log, options.logStream) : undefined;
  app.addHook('onResponse', (request, reply, done) => {
    if (requestLines !== undefined) {
      requestLines.add(request.log, request.method, request.url, reply.statusCode, reply.elapsedTime);
    } else if (logRequests) {
      request.log.info(
        {
          method: request.method,
          url: request.url,
          statusCode: reply.statusCode,
          responseTime: reply.elapsedTime,
        },
        'request completed',
      );
    }
    done();
  });
  return app;
}
