/**
 * HTTP checks shared by the CI scripts (prometheus-e2e.sh, bundle-smoke.sh), against a running service
 * or Prometheus. Every wait is bounded; a failed check exits 1 with a message saying what was expected.
 *
 *   node --import tsx scripts/ci/http-checks.ts ready <service-url> [timeout-seconds]
 *   node --import tsx scripts/ci/http-checks.ts predict <service-url>
 *   node --import tsx scripts/ci/http-checks.ts smoke <service-url>
 *   node --import tsx scripts/ci/http-checks.ts get <url> [out-file]
 *   node --import tsx scripts/ci/http-checks.ts prometheus <prometheus-url> [timeout-seconds]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { LOAN_EXAMPLE } from '../../src/loan/schema.js';

const EXAMPLE_LOAN = LOAN_EXAMPLE;
const DASHBOARD = new URL('../../grafana/dashboards/loan-default-service.json', import.meta.url);
const MODELS = ['logistic_regression', 'lda', 'gradient_boosting', 'xgboost'];

class CheckError extends Error {}
function check(ok: unknown, message: string): asserts ok {
  if (!ok) throw new CheckError(message);
}

async function request(url: string, init: RequestInit = {}): Promise<{ status: number; type: string; body: string }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
}

async function get(url: string, expectedType?: RegExp): Promise<string> {
  const res = await request(url);
  check(res.status === 200, `GET ${url}: expected 200, got ${res.status}: ${res.body.slice(0, 300)}`);
  if (expectedType)
    check(expectedType.test(res.type), `GET ${url}: expected content-type ${expectedType}, got ${res.type}`);
  return res.body;
}

/** Polls `probe` every `everyMs` until it returns a value (not undefined) or `seconds` pass. */
async function poll<T>(what: string, seconds: number, probe: () => Promise<T | undefined>, everyMs = 500): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  let last = '';
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline)
      throw new CheckError(`timed out after ${seconds} s waiting for ${what}${last && `: ${last}`}`);
    await sleep(everyMs);
  }
}

async function ready(base: string, seconds = 60): Promise<void> {
  await poll(`${base}/health/ready`, seconds, async () => {
    const res = await request(`${base}/health/ready`);
    return res.status === 200 ? true : undefined;
  });
  console.log(`ready: ${base}/health/ready answers 200`);
}

/** POST /predict with every model and with model=all; the answers carry probabilities of default. */
async function predict(base: string): Promise<void> {
  const list = JSON.parse(await get(`${base}/models`, /application\/json/)) as unknown;
  const names = (Array.isArray(list) ? list : ((list as { models?: unknown[] }).models ?? [])).map(
    (m) => (m as { name: string }).name,
  );
  for (const m of MODELS) check(names.includes(m), `GET /models: expected model ${m} among ${names.join(', ')}`);
  for (const model of [...MODELS, 'all']) {
    const res = await request(`${base}/predict?model=${model}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(EXAMPLE_LOAN),
    });
    check(
      res.status === 200,
      `POST /predict?model=${model}: expected 200, got ${res.status}: ${res.body.slice(0, 300)}`,
    );
    const body = JSON.parse(res.body) as {
      probability_of_default?: number;
      results?: { probability_of_default: number }[];
    };
    const pds =
      model === 'all' ? (body.results ?? []).map((r) => r.probability_of_default) : [body.probability_of_default];
    check(
      pds.length === (model === 'all' ? names.length : 1),
      `POST /predict?model=${model}: ${res.body.slice(0, 300)}`,
    );
    for (const pd of pds) {
      check(typeof pd === 'number' && pd >= 0 && pd <= 1, `POST /predict?model=${model}: PD ${pd} not in [0, 1]`);
    }
    console.log(`POST /predict?model=${model}: 200, probability_of_default ${pds.map((p) => p?.toFixed(5)).join(' ')}`);
  }
  const batch = await request(`${base}/predict?model=xgboost`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ loans: [EXAMPLE_LOAN, { ...EXAMPLE_LOAN, credit_score: 600, dti: 48 }] }),
  });
  check(
    batch.status === 200 && JSON.parse(batch.body).count === 2,
    `POST /predict batch: ${batch.status} ${batch.body}`,
  );
  console.log('POST /predict batch of 2: 200');
  // A backtest of the sample tape with outcomes: the surveillance gauges (and the dashboard's panels) have data.
  const backtest = await request(`${base}/pools/backtest?model=xgboost`, {
    method: 'POST',
    headers: { 'content-type': 'text/csv' },
    body: readFileSync('samples/backtest-tape.csv'),
  });
  check(backtest.status === 200, `POST /pools/backtest: ${backtest.status} ${backtest.body.slice(0, 300)}`);
  const report = JSON.parse(backtest.body) as { auc?: { value?: number }; light?: string };
  console.log(`POST /pools/backtest: 200, AUC ${report.auc?.value?.toFixed(3)}, light ${report.light}`);
}

/** The checks the production bundle must pass: probes, every model, metrics, OpenAPI, Swagger UI. */
async function smoke(base: string): Promise<void> {
  await ready(base);
  check(JSON.parse(await get(`${base}/health/live`)).status === 'ok', '/health/live: expected {"status":"ok"}');
  await predict(base);
  const metrics = await get(`${base}/metrics`, /text\/plain/);
  for (const needle of [
    'http_requests_total{method="POST",route="/predict",status="200"}',
    'http_request_duration_seconds_bucket{',
    'model_prediction_latency_seconds_bucket{le="0.000005",model="xgboost",version="1.0.0"}',
    'model_predictions_total{model="xgboost",version="1.0.0"}',
    'model_reloads_total{result="failure"} 0',
    'model_predicted_probability_bucket{',
    'model_info{model="xgboost"',
    'app_uptime_seconds ',
    'process_cpu_seconds_total ',
  ]) {
    check(metrics.includes(needle), `GET /metrics: expected ${needle}`);
  }
  console.log(`GET /metrics: 200, ${metrics.split('\n').filter((l) => l && !l.startsWith('#')).length} samples`);
  const page = await get(`${base}/`, /text\/html/);
  check(page.includes('<script type="module" src="ui/app.js"'), 'GET /: expected the page loading ui/app.js');
  await get(`${base}/ui/app.js`, /javascript/);
  await get(`${base}/ui/sample-tape.csv`, /text\/csv/);
  console.log('GET /, /ui/app.js, /ui/sample-tape.csv: 200');
  const v2 = JSON.parse(await get(`${base}/v2/health/ready`, /application\/json/)) as { ready?: boolean };
  check(v2.ready === true, 'GET /v2/health/ready: expected {"ready": true}');
  console.log('GET /v2/health/ready: 200');
  const openapi = JSON.parse(await get(`${base}/openapi.json`, /application\/json/)) as {
    paths: Record<string, unknown>;
  };
  check('/predict' in openapi.paths, 'GET /openapi.json: expected a /predict path');
  const docs = await get(`${base}/docs`, /text\/html/); // fetch follows the redirect to /docs/ if any
  check(/swagger-ui/i.test(docs), 'GET /docs: expected the Swagger UI page');
  // the page's scripts and stylesheets (served from the @fastify/swagger-ui package) and its spec
  const assets = [...docs.matchAll(/<(?:script[^>]*\ssrc|link[^>]*\shref)="([^"]+\.(?:js|css))"/g)].map(
    (m) => new URL(m[1] as string, `${base}/docs`).href,
  );
  check(
    assets.some((a) => a.endsWith('/swagger-ui-bundle.js')),
    `GET /docs: no swagger-ui-bundle.js in ${assets.join(' ')}`,
  );
  for (const asset of assets) await get(asset, /javascript|css/);
  await get(`${base}/docs/json`, /application\/json/);
  console.log(`GET /openapi.json, /docs (+ ${assets.length} scripts and stylesheets), /docs/json: 200`);
}

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

async function query(prometheus: string, promql: string): Promise<Sample[]> {
  const res = await request(`${prometheus}/api/v1/query?query=${encodeURIComponent(promql)}`);
  check(res.status === 200, `query ${promql}: HTTP ${res.status}: ${res.body.slice(0, 300)}`);
  const body = JSON.parse(res.body) as { status: string; data: { resultType: string; result: Sample[] } };
  check(body.status === 'success', `query ${promql}: ${res.body.slice(0, 300)}`);
  return body.data.result;
}

/** Prometheus scraped the service (series with the expected labels) and loaded the shipped alert rules. */
async function prometheus(base: string, seconds = 60): Promise<void> {
  await poll(`${base}/-/ready`, seconds, async () =>
    (await request(`${base}/-/ready`)).status === 200 ? true : undefined,
  );
  const up = await poll('up{job="loan-default-service"} == 1', seconds, async () => {
    const r = await query(base, 'up{job="loan-default-service"}');
    return r.length > 0 && r.every((s) => s.value[1] === '1') ? r : undefined;
  });
  console.log(`up: ${up.map((s) => `${s.metric.instance}=${s.value[1]}`).join(' ')}`);

  const expectations: { promql: string; labels: string[]; also?: (s: Sample[]) => string | undefined }[] = [
    {
      promql: 'http_requests_total{route="/predict"}',
      labels: ['__name__', 'instance', 'job', 'method', 'route', 'status'],
      also: (r) => (r.some((s) => s.metric.method === 'POST' && s.metric.status === '200') ? undefined : 'no POST 200'),
    },
    {
      promql: 'model_prediction_latency_seconds_bucket{model="xgboost"}',
      labels: ['__name__', 'instance', 'job', 'le', 'model', 'version'],
      also: (r) => (r.some((s) => s.metric.le === '+Inf' && Number(s.value[1]) > 0) ? undefined : 'no le="+Inf" > 0'),
    },
    {
      promql: 'http_request_duration_seconds_bucket{route="/predict"}',
      labels: ['__name__', 'instance', 'job', 'le', 'method', 'route', 'status'],
    },
    {
      promql: 'model_predictions_total',
      labels: ['__name__', 'instance', 'job', 'model', 'version'],
      also: (r) =>
        MODELS.every((m) => r.some((s) => s.metric.model === m && Number(s.value[1]) > 0))
          ? undefined
          : 'not every model > 0',
    },
    {
      promql: 'model_predicted_probability_bucket{model="xgboost"}',
      labels: ['__name__', 'instance', 'job', 'le', 'model', 'version'],
    },
    { promql: 'model_info', labels: ['__name__', 'default', 'family', 'instance', 'job', 'model', 'version'] },
    { promql: 'model_reloads_total', labels: ['__name__', 'instance', 'job', 'result'] },
    { promql: 'app_uptime_seconds', labels: ['__name__', 'instance', 'job'] },
  ];
  for (const { promql, labels, also } of expectations) {
    const result = await poll(promql, seconds, async () => {
      const r = await query(base, promql);
      if (r.length === 0) throw new Error('no series yet');
      const wrong = r.find((s) => Object.keys(s.metric).sort().join(',') !== labels.join(','));
      if (wrong) throw new Error(`labels ${Object.keys(wrong.metric).sort().join(',')}, expected ${labels.join(',')}`);
      const problem = also?.(r);
      if (problem) throw new Error(problem);
      return r;
    });
    const example = result.find((s) => s.metric.le === '+Inf') ?? result[0];
    console.log(`series ${promql}: ${result.length}, e.g. ${JSON.stringify(example?.metric)} = ${example?.value[1]}`);
  }

  const rules = JSON.parse(await get(`${base}/api/v1/rules`)) as {
    data: { groups: { name: string; rules: { name: string; type: string; health: string; lastError?: string }[] }[] };
  };
  const loaded = rules.data.groups.flatMap((g) => g.rules);
  for (const name of ['ServiceDown', 'HighErrorRate', 'HighPredictionLatencyP99']) {
    check(
      loaded.some((r) => r.name === name && r.type === 'alerting'),
      `/api/v1/rules: alert ${name} not loaded`,
    );
  }
  const evaluated = await poll('every rule evaluated healthy', seconds, async () => {
    const r = (JSON.parse(await get(`${base}/api/v1/rules`)) as typeof rules).data.groups.flatMap((g) => g.rules);
    const bad = r.find((x) => x.health !== 'ok');
    if (bad) throw new Error(`${bad.name}: health ${bad.health} ${bad.lastError ?? ''}`);
    return r;
  });
  console.log(`rules: ${evaluated.map((r) => `${r.name} (${r.health})`).join(', ')}`);
  const firing = await query(base, 'ALERTS{alertstate="firing"}');
  check(firing.length === 0, `alerts firing: ${JSON.stringify(firing.map((s) => s.metric))}`);
  await dashboardQueries(base, seconds);
}

/**
 * Every query of the Grafana dashboard, with Grafana's variables filled in, runs without error on this
 * Prometheus; the panels of the service's own metrics get data.
 */
async function dashboardQueries(base: string, seconds: number): Promise<void> {
  type Panel = { title: string; targets?: { expr: string }[]; panels?: Panel[] };
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[] };
  const flat = (ps: Panel[]): Panel[] => ps.flatMap((p) => [p, ...flat(p.panels ?? [])]);
  const queries = flat(dashboard.panels).flatMap((p) =>
    (p.targets ?? []).map((t) => ({ title: p.title, expr: t.expr })),
  );
  // rate() needs two scrapes in its window: poll until every query but the error-only ones has data
  const empty = await poll('data for every dashboard query', seconds, async () => {
    const none: string[] = [];
    for (const { title, expr } of queries) {
      const promql = expr.replaceAll('$__rate_interval', '1m').replaceAll('$__range', '5m').replaceAll('$model', '.*');
      if ((await query(base, promql)).length === 0) none.push(`${title}: ${expr}`);
    }
    const unexpected = none.filter((e) => !/status=~"[45]\.\."/.test(e));
    if (unexpected.length > 0) throw new Error(`queries without data:\n  ${unexpected.join('\n  ')}`);
    return none;
  });
  console.log(
    `dashboard: ${queries.length - empty.length} of ${queries.length} queries with data (empty: the 4xx/5xx ones)`,
  );
}

async function main(argv: string[]): Promise<void> {
  const [command, target, extra] = argv;
  check(command && target, 'usage: http-checks.ts ready|predict|smoke|get|prometheus <url> [arg]');
  const url = target.replace(/\/$/, '');
  switch (command) {
    case 'ready':
      return ready(url, extra ? Number(extra) : 60);
    case 'predict':
      return predict(url);
    case 'smoke':
      return smoke(url);
    case 'get': {
      const body = await get(url);
      if (extra) writeFileSync(extra, body);
      else process.stdout.write(body);
      return;
    }
    case 'prometheus':
      return prometheus(url, extra ? Number(extra) : 60);
    default:
      throw new CheckError(`unknown command ${command}`);
  }
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`FAIL: ${err instanceof CheckError ? err.message : (err as Error).stack}`);
    process.exit(1);
  },
);
