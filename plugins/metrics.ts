import type { FastifyRequest } from 'fastify';
import metricsModule from 'fastify-metrics';
import fp from 'fastify-plugin';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Prometheus metrics at /metrics. Each app gets its own registry (tests build many apps in one
 * process; the global registry stays empty). Labels come only from bounded sets: route templates
 * (unmatched requests share one label), HTTP methods and status codes, and the loaded model names.
 */

export interface PredictionMetrics {
  /** Records one scoring call of `model` over `probabilities`, which took `seconds`. */
  observe(model: string, seconds: number, probabilities: ArrayLike<number>): void;
}

declare module 'fastify' {
  interface FastifyInstance {
    metricsRegistry: Registry;
    predictionMetrics: PredictionMetrics;
  }
}

/** Sub-millisecond buckets: a single loan is scored in microseconds. */
export const LATENCY_BUCKETS = [
  0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1,
];
/** PD buckets dense at the low end, where most mortgage PDs are. */
export const PROBABILITY_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1,
];

const UNMATCHED_ROUTE = '__unmatched__';

// fastify-metrics is CommonJS with an `exports.default`: under Node's ESM interop that is `.default`.
const fastifyMetrics = metricsModule.default;

function routeOf(request: FastifyRequest): string {
  return request.routeOptions.url ?? UNMATCHED_ROUTE;
}

export default fp(
  async (app) => {
    const registry = new Registry();
    const startedAt = process.hrtime.bigint();
    await app.register(fastifyMetrics, {
      endpoint: '/metrics',
      defaultMetrics: { enabled: true, register: registry },
      routeMetrics: {
        enabled: { histogram: true, summary: false },
        registeredRoutesOnly: true,
        groupStatusCodes: false,
        routeBlacklist: ['/metrics'],
        overrides: {
          labels: { status: 'status' },
          histogram: { registers: [registry], buckets: LATENCY_BUCKETS },
          // Created even when disabled: keep it out of prom-client's global registry too.
          summary: { registers: [registry] },
        },
      },
    });

    const requests = new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered, by method, route template and status code.',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    });
    new Gauge({
      name: 'app_uptime_seconds',
      help: 'Seconds since this service instance started.',
      registers: [registry],
      collect() {
        this.set(Number(process.hrtime.bigint() - startedAt) / 1e9);
      },
    });
    const latency = new Histogram({
      name: 'model_prediction_latency_seconds',
      help: 'Time to score one request (one loan or a batch) with a model: encoding and evaluation.',
      labelNames: ['model'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    });
    const predictions = new Counter({
      name: 'model_predictions_total',
      help: 'Loans scored, by model.',
      labelNames: ['model'],
      registers: [registry],
    });
    const probability = new Histogram({
      name: 'model_predicted_probability',
      help: 'Distribution of predicted probabilities of default, by model (watch for score drift).',
      labelNames: ['model'],
      buckets: PROBABILITY_BUCKETS,
      registers: [registry],
    });
    const info = new Gauge({
      name: 'model_info',
      help: 'Loaded models: 1 per model, with its version and family as labels.',
      labelNames: ['model', 'version', 'family'],
      registers: [registry],
    });

    app.addHook('onResponse', async (request, reply) => {
      requests.inc({ method: request.method, route: routeOf(request), status: String(reply.statusCode) });
    });

    // Model series exist from start-up (zero until used), so dashboards and alerts see every model.
    app.addHook('onReady', async () => {
      for (const m of app.models.list()) {
        info.set({ model: m.name, version: m.version, family: m.family }, 1);
        latency.zero({ model: m.name });
        predictions.inc({ model: m.name }, 0);
        probability.zero({ model: m.name });
      }
    });

    app.decorate('metricsRegistry', registry);
    app.decorate('predictionMetrics', {
      observe(model, seconds, probabilities) {
        latency.observe({ model }, seconds);
        predictions.inc({ model }, probabilities.length);
        const h = probability.labels({ model });
        for (let i = 0; i < probabilities.length; i++) h.observe(probabilities[i] as number);
      },
    });
  },
  { name: 'metrics', dependencies: ['model-registry'] },
);
