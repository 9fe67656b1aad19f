import cluster from 'node:cluster';
import type { FastifyRequest } from 'fastify';
import metricsModule from 'fastify-metrics';
import fp from 'fastify-plugin';
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { METRICS_REQUEST, METRICS_RESPONSE, type MetricsRequest, type MetricsResponse } from '../src/cluster.js';
import { type CounterSeries, FastCounter, FastHistogram, type HistogramSeries } from '../src/metrics/series.js';
import type { Model } from '../src/runtime/index.js';

/**
 * Prometheus metrics at /metrics. Each app gets its own registry (tests build many apps in one
 * process; the global registry stays empty). Labels come only from bounded sets: route templates
 * (unmatched requests share one label), HTTP methods and status codes, and the loaded model versions.
 * In a cluster (WORKERS > 1) the worker that answers /metrics asks the primary for every worker's
 * metrics, aggregated: counters and histograms summed, so the answer is the whole service's.
 */

export interface PredictionMetrics {
  /** Records one scoring call of `model` (a version) over `probabilities`, which took `seconds`. */
  observe(model: Model, seconds: number, probabilities: ArrayLike<number>): void;
  /**
   * Records a shadow comparison: `champion` answered, `shadow` scored the same loans unseen.
   * `agreed` counts the loans both classed the same way (each at its own decision threshold).
   */
  shadow(champion: Model, shadow: Model, championPd: ArrayLike<number>, shadowPd: ArrayLike<number>): void;
  /** A shadow scoring that threw (it never affects the answer). */
  shadowFailed(champion: Model, shadow: Model): void;
}

/** The loan-tape series of POST /pools/score (plugins/routes/pools.ts). */
export interface PoolMetrics {
  /** A tape starts being read and scored (`pool_tapes_in_flight` up). */
  tapeStarted(): void;
  /** The tape was answered or refused (`pool_tapes_in_flight` down). */
  tapeEnded(): void;
  /** `count` invalid rows of a tape that was refused (`pool_rows_rejected_total`). */
  rowsRejected(model: string, count: number): void;
  /** A tape scored: `loans` loans answered, `rejected` rows skipped. */
  tapeScored(model: string, format: string, loans: number, rejected: number): void;
}

/** The figures of a backtest run (POST /pools/backtest), as gauges per model and version. */
export interface BacktestFigures {
  /** NaN when the outcomes cannot support it (one class only), or there is no stability baseline (psi). */
  readonly auc: number;
  readonly ks: number;
  readonly brier: number;
  readonly light: 'green' | 'amber' | 'red';
  readonly psi: number;
  readonly loans: number;
  /**
   * CSI per field of the artifact's stability baseline (the label set is the baseline's fields, bounded by
   * the artifact; empty without a baseline).
   */
  readonly csi: Readonly<Record<string, number>>;
  /** PD bands (of the calibration table) per traffic light. */
  readonly bandLights: Readonly<Record<'green' | 'amber' | 'red', number>>;
  /** Fields per PSI band (the baseline's fields). */
  readonly fieldBands: Readonly<Record<'stable' | 'moderate' | 'significant', number>>;
}

/** At most this many fields a model version get a CSI gauge (a baseline has about 20). */
export const MAX_CSI_FIELDS = 64;

/** The last backtest run per model version (plugins/routes/backtest.ts). */
export interface BacktestMetrics {
  lastRun(model: Model, figures: BacktestFigures): void;
}

declare module 'fastify' {
  interface FastifyInstance {
    metricsRegistry: Registry;
    predictionMetrics: PredictionMetrics;
    poolMetrics: PoolMetrics;
    backtestMetrics: BacktestMetrics;
  }
}

/** The calibration light as a number: 0 green, 1 amber, 2 red. */
export const LIGHT_VALUE = { green: 0, amber: 1, red: 2 } as const;

/** Sub-millisecond buckets: a single loan is scored in microseconds. */
const LATENCY_BUCKETS = [
  0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1,
];
/** PD buckets dense at the low end, where most mortgage PDs are. */
const PROBABILITY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1];

/** Loans per tape: from one loan to the largest tape POOL_MAX_ROWS allows. */
const TAPE_SIZE_BUCKETS = [1, 10, 100, 1_000, 10_000, 50_000, 100_000, 500_000, 1_000_000, 2_000_000, 5_000_000, 1e7];

const UNMATCHED_ROUTE = '__unmatched__';

let requestSeq = 0;

/** The cluster's aggregated metrics, from the primary (src/cluster.ts). */
function clusterMetrics(timeoutMs = 5000): Promise<{ text: string; contentType: string }> {
  return new Promise((resolve, reject) => {
    const id = `${process.pid}:${++requestSeq}`;
    const onMessage = (message: MetricsResponse) => {
      if (message?.type !== METRICS_RESPONSE || message.id !== id) return;
      clearTimeout(timer);
      process.off('message', onMessage);
      if (message.error !== undefined || message.text === undefined) reject(new Error(message.error ?? 'no metrics'));
      else resolve({ text: message.text, contentType: message.contentType ?? 'text/plain' });
    };
    const timer = setTimeout(() => {
      process.off('message', onMessage);
      reject(new Error('the cluster primary did not answer the metrics request'));
    }, timeoutMs);
    process.on('message', onMessage);
    process.send?.({ type: METRICS_REQUEST, id } satisfies MetricsRequest);
  });
}

// fastify-metrics is CommonJS with an `exports.default`: under Node's ESM interop that is `.default`.
const fastifyMetrics = metricsModule.default;

function routeOf(request: FastifyRequest): string {
  return request.routeOptions.url ?? UNMATCHED_ROUTE;
}

export default fp(
  async (app) => {
    const registry = new Registry();
    const startedAt = process.hrtime.bigint();
    // fastify-metrics brings the process and Node.js default metrics into this app's registry. Route
    // metrics are kept below instead: with label children cached per (method, route, status) they
    // cost a map lookup per request, where computing label sets cost ~11 µs of a ~46 µs request.
    await app.register(fastifyMetrics, {
      endpoint: null, // served below, so that a cluster answers for every worker
      defaultMetrics: { enabled: true, register: registry },
      routeMetrics: {
        enabled: false,
        // Created even when disabled: keep them out of prom-client's global registry too.
        overrides: { histogram: { registers: [registry] }, summary: { registers: [registry] } },
      },
    });

    const requests = new FastCounter(
      'http_requests_total',
      'HTTP requests answered, by method, route template and status code.',
      ['method', 'route', 'status'],
      registry,
    );
    const duration = new FastHistogram(
      'http_request_duration_seconds',
      'Time from receiving a request to sending its response, by method, route template and status.',
      ['method', 'route', 'status'],
      LATENCY_BUCKETS,
      registry,
    );
    new Gauge({
      name: 'app_uptime_seconds',
      help: 'Seconds since this service instance started.',
      registers: [registry],
      aggregator: 'max',
      collect() {
        this.set(Number(process.hrtime.bigint() - startedAt) / 1e9);
      },
    });
    // Log lines dropped because stdout fell behind by more than LOG_BACKLOG_BYTES (src/log-stream.ts).
    let droppedSeen = 0;
    new Counter({
      name: 'log_lines_dropped_total',
      help: 'Log lines dropped because stdout was slower than the log by more than the backlog bound (16 MiB).',
      registers: [registry],
      collect() {
        const dropped = app.logStream?.droppedLines ?? 0;
        if (dropped > droppedSeen) this.inc(dropped - droppedSeen);
        droppedSeen = dropped;
      },
    });
    // Per model version: with an A/B split each version is an arm, and these compare them.
    const latency = new FastHistogram(
      'model_prediction_latency_seconds',
      'Time to score one request (one loan or a batch) with a model version: encoding and evaluation.',
      ['model', 'version'],
      LATENCY_BUCKETS,
      registry,
    );
    const predictions = new FastCounter(
      'model_predictions_total',
      'Loans scored, by model and version (an A/B arm is a version).',
      ['model', 'version'],
      registry,
    );
    const probability = new FastHistogram(
      'model_predicted_probability',
      'Distribution of predicted probabilities of default, by model and version (watch for score drift).',
      ['model', 'version'],
      PROBABILITY_BUCKETS,
      registry,
    );
    const info = new Gauge({
      name: 'model_info',
      help: 'Loaded model versions: 1 each, with family and whether it is the default version as labels.',
      labelNames: ['model', 'version', 'family', 'default'],
      registers: [registry],
      aggregator: 'first', // every worker loads the same models
    });
    const shadowLabels = ['model', 'champion', 'shadow'];
    const shadowLoans = new FastCounter(
      'model_shadow_loans_total',
      'Loans scored by a shadow (challenger) version beside the champion that answered, by whether the two ' +
        'made the same default decision (agree="true"/"false").',
      [...shadowLabels, 'agree'],
      registry,
    );
    const shadowDifference = new FastHistogram(
      'model_shadow_pd_difference',
      'Absolute difference |PD shadow − PD champion| per loan.',
      shadowLabels,
      [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registry,
    );
    const shadowFailures = new FastCounter(
      'model_shadow_failures_total',
      'Shadow scorings that failed (never visible to clients).',
      shadowLabels,
      registry,
    );
    const reloads = new Counter({
      name: 'model_reloads_total',
      help: 'Model directory loads after start-up, by result (success, failure: the old models kept serving).',
      labelNames: ['result'],
      registers: [registry],
    });
    const generation = new Gauge({
      name: 'model_set_generation',
      help:
        'Successful loads of the model directory by this process: 1 at start-up, +1 per reload. In a cluster, the ' +
        'minimum over workers (a replacement worker starts at 1, with the files as they are then).',
      registers: [registry],
      aggregator: 'min', // in a cluster: the generation every worker has reached
    });
    const lastReload = new Gauge({
      name: 'model_last_reload_timestamp_seconds',
      help: 'Unix time of the last reload attempt, by result.',
      labelNames: ['result'],
      registers: [registry],
      aggregator: 'max',
    });
    reloads.inc({ result: 'success' }, 0);
    reloads.inc({ result: 'failure' }, 0);

    // Loan tapes (POST /pools/score).
    const tapesScored = new Counter({
      name: 'pool_tapes_scored_total',
      help: 'Loan tapes scored by POST /pools/score, by model and tape format.',
      labelNames: ['model', 'format'],
      registers: [registry],
    });
    const loansScored = new Counter({
      name: 'pool_loans_scored_total',
      help: 'Loans scored in loan tapes, by model.',
      labelNames: ['model'],
      registers: [registry],
    });
    const tapeSize = new Histogram({
      name: 'pool_tape_size_loans',
      help: 'Loans scored per tape.',
      buckets: TAPE_SIZE_BUCKETS,
      registers: [registry],
    });
    const rowsRejected = new Counter({
      name: 'pool_rows_rejected_total',
      help: 'Tape rows found invalid (skipped, or failing their tape), by model.',
      labelNames: ['model'],
      registers: [registry],
    });
    const tapesInFlight = new Gauge({
      name: 'pool_tapes_in_flight',
      help: 'Loan tapes being read and scored now.',
      registers: [registry],
    });
    // Every model's tape series exist (at zero) from start-up, as the model series do.
    app.addHook('onReady', async () => {
      for (const model of app.models.names()) {
        for (const format of ['csv', 'freddie', 'json']) tapesScored.inc({ model, format }, 0);
        loansScored.inc({ model }, 0);
        rowsRejected.inc({ model }, 0);
      }
    });
    app.decorate('poolMetrics', {
      tapeStarted: () => tapesInFlight.inc(),
      tapeEnded: () => tapesInFlight.dec(),
      rowsRejected(model, count) {
        if (count > 0) rowsRejected.inc({ model }, count);
      },
      tapeScored(model, format, loans, rejected) {
        tapesScored.inc({ model, format });
        loansScored.inc({ model }, loans);
        tapeSize.observe(loans);
        if (rejected > 0) rowsRejected.inc({ model }, rejected);
      },
    } satisfies PoolMetrics);

    // The last backtest per model version (POST /pools/backtest). In a cluster each worker keeps the runs it
    // answered; the aggregate is the worst over workers (AUC and KS: min; Brier, light, PSI, loans: max).
    const backtestGauge = (name: string, help: string, aggregator: 'min' | 'max', label?: string) =>
      new Gauge({
        name,
        help,
        labelNames: label === undefined ? ['model', 'version'] : ['model', 'version', label],
        registers: [registry],
        aggregator,
      });
    const backtest = {
      auc: backtestGauge('model_backtest_auc', 'AUC of the last backtest (NaN: one class only).', 'min'),
      ks: backtestGauge('model_backtest_ks', 'KS statistic of the last backtest (NaN: one class only).', 'min'),
      brier: backtestGauge('model_backtest_brier', 'Brier score of the last backtest.', 'max'),
      light: backtestGauge(
        'model_backtest_calibration_light',
        'Overall calibration light of the last backtest: 0 green, 1 amber, 2 red.',
        'max',
      ),
      psi: backtestGauge(
        'model_backtest_score_psi',
        "Score PSI of the last backtest against the artifact's stability baseline (NaN: the artifact has none).",
        'max',
      ),
      loans: backtestGauge('model_backtest_loans', 'Labelled loans in the last backtest.', 'max'),
      time: backtestGauge('model_backtest_timestamp_seconds', 'Unix time of the last backtest.', 'max'),
    };
    const csi = backtestGauge(
      'model_backtest_field_csi',
      "CSI (PSI of one input field) of the last backtest against the artifact's stability baseline; one series per baseline field.",
      'max',
      'field',
    );
    const bandLights = backtestGauge(
      'model_backtest_pd_bands',
      'PD bands of the last backtest by calibration light (green, amber, red).',
      'max',
      'light',
    );
    const fieldBands = backtestGauge(
      'model_backtest_drift_fields',
      'Baseline fields of the last backtest by CSI band (stable, moderate, significant).',
      'max',
      'band',
    );
    /** The CSI fields set per model version, so a field left out of a later run loses its series. */
    const csiFields = new Map<string, string[]>();
    app.decorate('backtestMetrics', {
      lastRun(model, f) {
        const labels = { model: model.name, version: model.version };
        backtest.auc.set(labels, f.auc);
        backtest.ks.set(labels, f.ks);
        backtest.brier.set(labels, f.brier);
        backtest.light.set(labels, LIGHT_VALUE[f.light]);
        backtest.psi.set(labels, f.psi);
        backtest.loans.set(labels, f.loans);
        backtest.time.set(labels, Date.now() / 1000);
        const key = JSON.stringify([model.name, model.version]);
        for (const field of csiFields.get(key) ?? []) csi.remove({ ...labels, field });
        const fields = Object.keys(f.csi).slice(0, MAX_CSI_FIELDS);
        for (const field of fields) csi.set({ ...labels, field }, f.csi[field] as number);
        csiFields.set(key, fields);
        for (const [light, n] of Object.entries(f.bandLights)) bandLights.set({ ...labels, light }, n);
        for (const [band, n] of Object.entries(f.fieldBands)) fieldBands.set({ ...labels, band }, n);
      },
    } satisfies BacktestMetrics);

    // Label children per (method, route, status): bounded because routes are templates and
    // unmatched URLs share one label.
    const routeSeries = new Map<string, { count: CounterSeries; time: HistogramSeries }>();
    app.addHook('onResponse', (request, reply, done) => {
      const route = routeOf(request);
      if (route === '/metrics') {
        done();
        return;
      }
      const status = reply.statusCode;
      const key = `${request.method} ${status} ${route}`;
      let series = routeSeries.get(key);
      if (series === undefined) {
        const labels = { method: request.method, route, status: String(status) };
        series = { count: requests.series(labels), time: duration.series(labels) };
        routeSeries.set(key, series);
      }
      series.count.inc();
      series.time.observe(reply.elapsedTime / 1000);
      done();
    });

    // Model series exist from the load that brought the version in (zero until used), so dashboards
    // and alerts see every version; model_info follows every reload.
    app.onModelsLoaded((set, outcome) => {
      if (outcome.trigger !== 'start-up') {
        const result = outcome.ok ? 'success' : 'failure';
        reloads.inc({ result });
        lastReload.set({ result }, Date.now() / 1000);
      }
      generation.set(set.generation);
      info.reset();
      for (const m of set.all()) {
        info.set({ model: m.name, version: m.version, family: m.family, default: String(set.get(m.name) === m) }, 1);
        seriesOf(m);
      }
    });

    const inCluster = cluster.isWorker && typeof process.send === 'function';
    if (inCluster) {
      // prom-client answers the primary's collection requests only once an AggregatorRegistry has
      // been constructed in the worker (its constructor installs the listener), and from the
      // registries named here.
      new AggregatorRegistry();
      AggregatorRegistry.setRegistries([registry]);
    }
    app.get('/metrics', { config: { auth: 'ops' }, schema: { hide: true } }, async (_request, reply) => {
      const { text, contentType } = inCluster
        ? await clusterMetrics()
        : { text: await registry.metrics(), contentType: registry.contentType };
      return reply.type(contentType).send(text);
    });

    app.decorate('metricsRegistry', registry);
    // Label children per model version (Model objects of a reload are new: key by name and version).
    type ModelSeries = { latency: HistogramSeries; predictions: CounterSeries; probability: HistogramSeries };
    const modelSeries = new Map<string, ModelSeries>();
    // The Model object's own entry first (no key string per request); a reload's new objects find
    // the series of their name and version in the map.
    const byModel = new WeakMap<Model, ModelSeries>();
    const seriesOf = (model: Model) => {
      const known = byModel.get(model);
      if (known !== undefined) return known;
      const key = `${model.name}@${model.version}`;
      let series = modelSeries.get(key);
      if (series === undefined) {
        const labels = { model: model.name, version: model.version };
        series = {
          latency: latency.series(labels),
          predictions: predictions.series(labels),
          probability: probability.series(labels),
        };
        modelSeries.set(key, series);
      }
      byModel.set(model, series);
      return series;
    };
    const shadowSeries = new Map<
      string,
      { agree: CounterSeries; disagree: CounterSeries; difference: HistogramSeries }
    >();
    app.decorate('predictionMetrics', {
      observe(model, seconds, probabilities) {
        const series = seriesOf(model);
        series.latency.observe(seconds);
        series.predictions.inc(probabilities.length);
        for (let i = 0; i < probabilities.length; i++) series.probability.observe(probabilities[i] as number);
      },
      shadow(champion, shadow, championPd, shadowPd) {
        const labels = { model: champion.name, champion: champion.version, shadow: shadow.version };
        const key = `${labels.model}@${labels.champion}@${labels.shadow}`;
        let series = shadowSeries.get(key);
        if (series === undefined) {
          series = {
            agree: shadowLoans.series({ ...labels, agree: 'true' }),
            disagree: shadowLoans.series({ ...labels, agree: 'false' }),
            difference: shadowDifference.series(labels),
          };
          shadowSeries.set(key, series);
        }
        let agreed = 0;
        for (let i = 0; i < championPd.length; i++) {
          const c = championPd[i] as number;
          const s = shadowPd[i] as number;
          if (c >= champion.decisionThreshold === s >= shadow.decisionThreshold) agreed++;
          series.difference.observe(Math.abs(s - c));
        }
        series.agree.inc(agreed);
        series.disagree.inc(championPd.length - agreed);
      },
      shadowFailed(champion, shadow) {
        shadowFailures.series({ model: champion.name, champion: champion.version, shadow: shadow.version }).inc();
      },
    });
  },
  { name: 'metrics', dependencies: ['model-registry', 'model-loader'] },
);
