import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { LOAN_EXAMPLE } from '../../src/loan/schema.js';
import { tempDir } from '../helpers/temp.js';

/**
 * The deployment files (Dockerfile, compose.yaml, Prometheus, Grafana) against the service itself:
 * every metric a dashboard panel or an alert names is one the service really exports (with the labels
 * it is queried by), and every port, path and route the files mention is the service's.
 */

const root = new URL('../../', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8');
const exists = (path: string): boolean => existsSync(new URL(path, root));

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML/JSON documents are checked field by field below
type Doc = any;
const yaml = (path: string): Doc => parse(read(path));

// A shadow configured, so the A/B and shadow series exist in the scrape the panels are checked against.
const routingFile = join(tempDir('routing-'), 'routing.json');
writeFileSync(routingFile, JSON.stringify({ models: { xgboost: { default: '1.0.0', shadow: '1.1.0' } } }));
const config = loadConfig({ LOG_LEVEL: 'silent', ROUTING_FILE: routingFile });
const PORT = config.port;
const JOB = 'loan-default-service';
const EXAMPLE_LOAN = LOAN_EXAMPLE;

/** Series Prometheus itself adds to every scrape (not in the service's /metrics). */
const SCRAPE_SERIES = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped']);
/** Labels Prometheus attaches to every scraped series (the target's labels). */
const TARGET_LABELS = ['job', 'instance'];

let app: FastifyInstance;
/** Exported sample names (histograms as _bucket/_sum/_count) → the label names seen on them. */
const exported = new Map<string, Set<string>>();

beforeAll(async () => {
  app = buildApp(config, { logger: false });
  await app.ready();
  const models = app.models.names();
  for (const model of [...models, 'all']) {
    const res = await app.inject({ method: 'POST', url: `/predict?model=${model}`, payload: EXAMPLE_LOAN });
    expect(res.statusCode, `POST /predict?model=${model}: ${res.body}`).toBe(200);
  }
  await app.inject({ method: 'POST', url: '/predict', payload: { loans: [EXAMPLE_LOAN, EXAMPLE_LOAN] } });
  await app.inject({ method: 'POST', url: '/predict', payload: { credit_score: 'high' } }); // a 400
  await app.inject({ method: 'GET', url: '/no-such-route' }); // a 404, route __unmatched__
  await app.inject({ method: 'GET', url: '/health/ready' });
  // A backtest, so the last-run gauges (model_backtest_*) exist for the surveillance panels and alerts.
  const backtest = await app.inject({
    method: 'POST',
    url: '/pools/backtest',
    payload: read('samples/backtest-tape.csv'),
    headers: { 'content-type': 'text/csv' },
  });
  expect(backtest.statusCode, backtest.body.slice(0, 300)).toBe(200);
  await new Promise((r) => setImmediate(r)); // shadow scoring runs after the answers
  const metrics = await app.inject({ method: 'GET', url: '/metrics' });
  expect(metrics.statusCode).toBe(200);
  for (const line of metrics.body.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s/.exec(line);
    if (!m?.[1]) continue;
    const labels = exported.get(m[1]) ?? new Set<string>();
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_]\w*)="(?:[^"\\]|\\.)*"/g)) labels.add(l[1] as string);
    exported.set(m[1], labels);
  }
}, 60_000);

afterAll(async () => {
  await app?.close();
});

// ---- PromQL: the metric and label names an expression uses -------------------------------------

const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'inf',
  'nan',
]);

interface Names {
  metrics: Set<string>;
  labels: Set<string>;
}

/** Metric names and label names (matchers, by/without/on/ignoring/group_x) of a PromQL expression. */
function promqlNames(expr: string): Names {
  const metrics = new Set<string>();
  const labels = new Set<string>();
  const lv = /^\s*label_values\((.*),\s*([a-zA-Z_]\w*)\s*\)\s*$/s.exec(expr); // Grafana variable query
  let e = lv ? (lv[1] as string) : expr;
  if (lv) labels.add(lv[2] as string);
  e = e.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""'); // string literals
  e = e.replace(/\{([^}]*)\}/g, (_, body: string) => {
    for (const m of body.matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/g)) labels.add(m[1] as string);
    return ' ';
  });
  e = e.replace(/\[[^\]]*\]/g, ' '); // range selectors and subqueries: [5m], [$__rate_interval]
  e = e.replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g, (_, list: string) => {
    for (const l of list.split(',')) if (l.trim()) labels.add(l.trim());
    return ' ';
  });
  for (const m of e.matchAll(/(?<![\w:$.])[a-zA-Z_:][\w:]*/g)) {
    const name = m[0];
    if (KEYWORDS.has(name.toLowerCase())) continue;
    if (/^\s*\(/.test(e.slice((m.index ?? 0) + name.length))) continue; // a function call
    metrics.add(name);
  }
  return { metrics, labels };
}

/** Problems with an expression: unknown metrics, or labels none of its metrics carry. */
function problems(expr: string): string[] {
  const { metrics, labels } = promqlNames(expr);
  const out: string[] = [];
  if (metrics.size === 0) out.push('names no metric');
  const known = new Set<string>(TARGET_LABELS);
  for (const metric of metrics) {
    const l = exported.get(metric);
    if (l) for (const x of l) known.add(x);
    else if (!SCRAPE_SERIES.has(metric)) out.push(`metric ${metric} is not exported by the service`);
  }
  for (const label of labels)
    if (!known.has(label)) out.push(`label ${label} is on none of ${[...metrics].join(', ')}`);
  return out;
}

describe('promqlNames', () => {
  it('finds metric and label names, not functions, keywords, durations or variables', () => {
    const n = promqlNames(
      'histogram_quantile(0.99, sum by (model, le) (rate(model_prediction_latency_seconds_bucket{job="x", model=~"$model"}[$__rate_interval]))) > 0.005 and on (job) up offset 5m',
    );
    expect([...n.metrics].sort()).toEqual(['model_prediction_latency_seconds_bucket', 'up']);
    expect([...n.labels].sort()).toEqual(['job', 'le', 'model']);
    expect([...promqlNames('label_values(model_info{job="x"}, version)').metrics]).toEqual(['model_info']);
  });
});

// ---- the documents ------------------------------------------------------------------------------

const dashboard: Doc = JSON.parse(read('grafana/dashboards/loan-default-service.json'));
const alerts: Doc = yaml('prometheus/alerts.yml');
const prometheus: Doc = yaml('prometheus/prometheus.yml');
const compose: Doc = yaml('compose.yaml');
const datasources: Doc = yaml('grafana/provisioning/datasources/prometheus.yml');
const providers: Doc = yaml('grafana/provisioning/dashboards/dashboards.yml');

function allPanels(panels: Doc[] = []): Doc[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels)]);
}
const panels = allPanels(dashboard.panels).filter((p) => p.type !== 'row');
const panelExprs: [string, string][] = panels.flatMap((p) =>
  (p.targets ?? []).map((t: Doc) => [`panel "${p.title}"`, t.expr] as [string, string]),
);
const variableExprs: [string, string][] = (dashboard.templating?.list ?? [])
  .filter((v: Doc) => v.type === 'query')
  .map((v: Doc) => [`variable $${v.name}`, typeof v.query === 'string' ? v.query : v.query.query]);
const alertRules: Doc[] = alerts.groups.flatMap((g: Doc) => g.rules);

describe('every PromQL expression names only what the service exports', () => {
  it('has the metrics of a scrape with predictions', () => {
    for (const name of [
      'http_requests_total',
      'http_request_duration_seconds_bucket',
      'model_prediction_latency_seconds_bucket',
      'model_predictions_total',
      'model_predicted_probability_bucket',
      'model_info',
      'app_uptime_seconds',
      'model_shadow_loans_total',
      'model_shadow_pd_difference_bucket',
      'model_reloads_total',
      'model_set_generation',
    ]) {
      expect(exported.has(name), name).toBe(true);
    }
  });

  it('dashboard panels and variables', () => {
    expect(panelExprs.length).toBeGreaterThan(10);
    for (const [where, expr] of [...panelExprs, ...variableExprs]) {
      expect(typeof expr, where).toBe('string');
      expect(problems(expr), `${where}: ${expr}`).toEqual([]);
    }
  });

  it('alert rules', () => {
    expect(alertRules.map((r) => r.alert)).toEqual(
      expect.arrayContaining([
        'ServiceDown',
        'HighErrorRate',
        'HighPredictionLatencyP99',
        'ModelScoreDriftSignificant',
        'ModelCalibrationRed',
        'ModelFieldDriftSignificant',
        'ModelReloadFailed',
      ]),
    );
    for (const rule of alertRules) {
      expect(problems(rule.expr), `alert ${rule.alert}: ${rule.expr}`).toEqual([]);
      expect(rule.annotations?.summary, rule.alert).toBeTruthy();
      expect(rule.annotations?.description, rule.alert).toBeTruthy();
      for (const m of (rule.expr as string).matchAll(/job="([^"]*)"/g)) expect(m[1], rule.alert).toBe(JOB);
      for (const m of (rule.expr as string).matchAll(/route="([^"]*)"/g)) {
        expect(app.hasRoute({ method: 'POST', url: m[1] as string }), `${rule.alert}: route ${m[1]}`).toBe(true);
      }
    }
  });
});

describe('the dashboard', () => {
  const exprsOf = (type?: string) => panels.filter((p) => !type || p.type === type).flatMap((p) => p.targets ?? []);
  const uses = (re: RegExp, type?: string) => exprsOf(type).some((t: Doc) => re.test(t.expr));

  it('has the panels operations needs', () => {
    expect(uses(/rate\(http_requests_total\{[^}]*\}\[[^\]]+\]\)/)).toBe(true);
    expect(uses(/http_requests_total\{[^}]*status=~"5\.\."/)).toBe(true);
    expect(uses(/histogram_quantile\(0\.5,.*model_prediction_latency_seconds_bucket/)).toBe(true);
    expect(uses(/histogram_quantile\(0\.99,.*model_prediction_latency_seconds_bucket/)).toBe(true);
    expect(uses(/rate\(model_predictions_total/)).toBe(true);
    expect(
      uses(/model_predicted_probability_bucket/, 'heatmap') || uses(/model_predicted_probability_bucket/, 'bargauge'),
    ).toBe(true);
    expect(uses(/app_uptime_seconds/)).toBe(true);
    expect(uses(/model_info/, 'table')).toBe(true);
    // Versions: arms of an A/B split side by side, the shadow's agreement, reloads.
    expect(uses(/sum by \(model, version\) \(rate\(model_predictions_total/)).toBe(true);
    expect(uses(/model_shadow_loans_total\{[^}]*agree="true"/)).toBe(true);
    expect(uses(/histogram_quantile\(0\.99,.*model_shadow_pd_difference_bucket/)).toBe(true);
    expect(uses(/model_reloads_total/)).toBe(true);
    // Surveillance: the last backtest's drift, calibration light and discrimination (POST /pools/backtest).
    expect(uses(/model_backtest_score_psi/)).toBe(true);
    expect(uses(/model_backtest_calibration_light/, 'stat')).toBe(true);
    expect(uses(/model_backtest_auc/)).toBe(true);
    expect(uses(/max by \(model, version, field\) \(model_backtest_field_csi/, 'bargauge')).toBe(true);
    expect(uses(/model_backtest_pd_bands\{[^}]*light=~"amber\|red"/, 'stat')).toBe(true);
    expect(uses(/model_backtest_drift_fields/, 'stat')).toBe(true);
  });

  it('uses the provisioned datasource everywhere, and unique panel ids', () => {
    const uid = datasources.datasources[0].uid;
    expect(uid).toBe('prometheus');
    const refs = [
      ...panels.map((p) => p.datasource),
      ...panels.flatMap((p) => (p.targets ?? []).map((t: Doc) => t.datasource)),
      ...(dashboard.templating?.list ?? []).map((v: Doc) => v.datasource),
    ];
    for (const ref of refs) expect(ref).toEqual({ type: 'prometheus', uid });
    const ids = allPanels(dashboard.panels).map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(dashboard.uid).toMatch(/^[\w-]{1,40}$/);
  });
});

// ---- ports, paths and routes -------------------------------------------------------------------

const dockerfile = read('Dockerfile');
/** Dockerfile instructions (continuation lines joined, comments dropped). */
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'))
  .map((l) => {
    const [, keyword = '', args = ''] = /^(\S+)\s*(.*)$/.exec(l) ?? [];
    return { keyword: keyword.toUpperCase(), args };
  });
const stages: { keyword: string; args: string }[][] = [];
for (const i of instructions) {
  if (i.keyword === 'FROM') stages.push([]);
  stages.at(-1)?.push(i);
}
const runtime = stages.at(-1) ?? [];
const args = (keyword: string, stage = runtime) => stage.filter((i) => i.keyword === keyword).map((i) => i.args);

describe('Dockerfile', () => {
  it('is multi-stage: build with dev dependencies, runtime with production dependencies only', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const build = stages[0] ?? [];
    expect(args('RUN', build).join('\n')).toMatch(/npm ci(?![^\n]*--omit=dev)/);
    expect(args('RUN', build).join('\n')).toMatch(/npm run build/);
    expect(args('RUN').join('\n')).toMatch(/npm ci[^\n]*--omit=dev/);
    // the runtime stage copies package*.json, the compiled dist/, the model artifacts, the web page and its
    // sample tape: no sources, no tests
    const copies = args('COPY').map((a) => a.replace(/--\S+\s+/g, ''));
    expect(copies.sort()).toEqual([
      '/app/dist ./dist',
      'model-artifacts ./model-artifacts',
      'package.json package-lock.json ./',
      'public ./public',
      'samples ./samples',
    ]);
    expect(args('USER')).toEqual(['node']);
  });

  it('agrees with the service: port, host, health check route, entry point', async () => {
    expect(args('EXPOSE')).toEqual([String(PORT)]);
    const env = args('ENV').join(' ');
    expect(env).toMatch(/\bHOST=0\.0\.0\.0\b/);
    expect(env).toMatch(new RegExp(`\\bPORT=${PORT}\\b`));
    expect(env).toMatch(/\bNODE_ENV=production\b/);

    const [healthcheck = ''] = args('HEALTHCHECK');
    const url = /http:\/\/127\.0\.0\.1:'? *\+? *\(?process\.env\.PORT \|\| (\d+)\)? *\+? *'(\/[\w/]+)'/.exec(
      healthcheck,
    );
    expect(url, healthcheck).not.toBeNull();
    expect(Number(url?.[1])).toBe(PORT);
    expect(url?.[2]).toBe('/health/live');
    expect(app.hasRoute({ method: 'GET', url: '/health/live' })).toBe(true);
    expect((await app.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);

    const [cmd = ''] = args('CMD');
    expect(JSON.parse(cmd)).toEqual(['node', 'dist/src/server.js']);
    // tsc -p tsconfig.build.json compiles src/server.ts to dist/src/server.js
    const tsconfig: Doc = JSON.parse(read('tsconfig.json'));
    const tsconfigBuild: Doc = JSON.parse(read('tsconfig.build.json'));
    expect(tsconfigBuild.extends).toBe('./tsconfig.json');
    expect(tsconfigBuild.compilerOptions?.outDir ?? tsconfig.compilerOptions.outDir).toBe('dist');
    expect(tsconfigBuild.compilerOptions?.rootDir ?? tsconfig.compilerOptions.rootDir).toBe('.');
    expect(tsconfigBuild.include).toContain('src');
    expect(exists('src/server.ts')).toBe(true);
    // the copied paths exist in the build context
    for (const path of [
      'package.json',
      'package-lock.json',
      'tsconfig.json',
      'tsconfig.build.json',
      'src',
      'plugins',
      'public/index.html',
      'samples/sample-tape.csv',
    ]) {
      expect(exists(path), path).toBe(true);
    }
  });

  it('.dockerignore keeps node_modules and build output out, and nothing the Dockerfile copies', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    expect(ignored).toContain('node_modules');
    expect(ignored).toContain('dist');
    expect(ignored).toContain('.git');
    const copied = stages
      .flatMap((s) => s.filter((i) => i.keyword === 'COPY' && !i.args.includes('--from=')))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    for (const path of copied) expect(ignored, path).not.toContain(path);
  });
});

describe('compose.yaml and Prometheus', () => {
  it('publishes the service port and probes an existing route', () => {
    const service = compose.services.service;
    expect(service.build).toBe('.');
    expect(service.init).toBe(true);
    // Published on loopback unless BIND_ADDRESS is set (the variable as compose reads it).
    const published = (port: number) => `${'$'}{BIND_ADDRESS:-127.0.0.1}:${port}:${port}`;
    expect(service.ports).toEqual([published(PORT)]);
    const test = (service.healthcheck.test as string[]).join(' ');
    expect(test).toContain(`http://127.0.0.1:${PORT}/health/live`);
    expect(compose.services.prometheus.ports).toEqual([published(9090)]);
    expect(compose.services.grafana.ports).toEqual([published(3000)]);
  });

  it('publishes on loopback unless BIND_ADDRESS says otherwise, and takes no default Grafana password', () => {
    for (const [name, s] of Object.entries(compose.services as Record<string, Doc>)) {
      for (const port of (s.ports ?? []) as string[]) {
        // host:container alone publishes on every interface; the address must come first, loopback by default.
        expect(port, `${name}: ${port}`).toMatch(/^\$\{BIND_ADDRESS:-127\.0\.0\.1\}:\d+:\d+$/);
      }
    }
    const grafana = compose.services.grafana.environment;
    // Required from the environment (compose refuses to start without it), never a fixed value.
    expect(grafana.GF_SECURITY_ADMIN_PASSWORD).toMatch(/^\$\{GRAFANA_ADMIN_PASSWORD:\?[^}]+\}$/);
    expect(read('compose.yaml')).not.toMatch(/admin \/ admin|GF_SECURITY_ADMIN_PASSWORD: admin\b/);
  });

  it('scrapes the service at its port and metrics path, with the shipped rules', () => {
    const [job] = prometheus.scrape_configs;
    expect(job.job_name).toBe(JOB);
    expect(job.scrape_interval).toBe('5s');
    expect(job.metrics_path ?? '/metrics').toBe('/metrics');
    expect(app.hasRoute({ method: 'GET', url: job.metrics_path ?? '/metrics' })).toBe(true);
    expect(job.static_configs[0].targets).toEqual([`service:${PORT}`]);
    expect(Object.keys(compose.services)).toContain('service');
    expect(prometheus.rule_files).toEqual(['alerts.yml']);

    const volumes: string[] = compose.services.prometheus.volumes;
    const config = volumes.find((v) => v.startsWith('./prometheus/prometheus.yml:'));
    const rules = volumes.find((v) => v.startsWith('./prometheus/alerts.yml:'));
    expect(config?.split(':')[1]).toBe('/etc/prometheus/prometheus.yml');
    expect(rules?.split(':')[1]).toBe('/etc/prometheus/alerts.yml'); // rule_files is relative to the config
    expect(compose.services.prometheus.command).toContain('--config.file=/etc/prometheus/prometheus.yml');
  });

  it('provisions Grafana with the Prometheus datasource and the dashboards folder', () => {
    const volumes: string[] = compose.services.grafana.volumes;
    const provisioning = volumes.find((v) => v.startsWith('./grafana/provisioning:'));
    const dashboards = volumes.find((v) => v.startsWith('./grafana/dashboards:'));
    expect(provisioning?.split(':')[1]).toBe('/etc/grafana/provisioning');
    expect(providers.providers[0].options.path).toBe(dashboards?.split(':')[1]);
    const [ds] = datasources.datasources;
    expect(ds.type).toBe('prometheus');
    expect(ds.url).toBe(`http://prometheus:${compose.services.prometheus.ports[0].split(':').at(-1)}`);
  });

  it('serves the routes the files and docs point at', () => {
    for (const [method, url] of [
      ['GET', '/health/live'],
      ['GET', '/health/ready'],
      ['GET', '/metrics'],
      ['POST', '/predict'],
      ['GET', '/models'],
      ['GET', '/openapi.json'],
    ] as const) {
      expect(app.hasRoute({ method, url }), `${method} ${url}`).toBe(true);
    }
  });
});
